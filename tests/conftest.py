"""Real infrastructure for the tests: a MongoDB-protocol store and RabbitMQ.

The store, in order of preference: MONGODB_URL from the environment (a real MongoDB replica
set); a MongoDB container when a Docker engine answers (testcontainers); else SecantusDB as a
separate process in a temporary directory (the embedded default; no Docker here).
The broker: AMQP_URL, else the local RabbitMQ (started if installed and stopped); each test
session gets its own virtual host when `rabbitmqctl` is at hand, so tests never touch the
queues of a running development system.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from devstack.processes import ManagedProcess, Stack, ensure_rabbitmq, free_port, start_embedded_store
from devstack.stack import ISSUERS
from shared.auth import ensure_keys
from shared.config import Settings


def _docker_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "info"], capture_output=True).returncode == 0


@pytest.fixture(scope="session")
def mongodb_url(tmp_path_factory):
    if url := os.environ.get("TEST_MONGODB_URL") or os.environ.get("MONGODB_URL"):
        yield url
        return
    if _docker_answers():  # pragma: no cover - no Docker engine on the CI machines
        from testcontainers.mongodb import MongoDbContainer

        with MongoDbContainer("mongo:8.0").with_command("--replSet rs0 --bind_ip_all") as mongo:
            host, port = mongo.get_container_host_ip(), mongo.get_exposed_port(27017)
            mongo.exec(["mongosh", "--quiet", "--eval", f"rs.initiate({{_id:'rs0',members:[{{_id:0,host:'localhost:27017'}}]}})"])
            yield f"mongodb://{host}:{port}/?directConnection=true"
        return
    var = tmp_path_factory.mktemp("store")
    stack = Stack(var, dict(os.environ))
    port = free_port()
    proc: ManagedProcess = start_embedded_store(stack, port, var / "data")
    yield f"mongodb://127.0.0.1:{port}/"
    proc.stop()


@pytest.fixture(scope="session")
def amqp_url():
    base = os.environ.get("TEST_AMQP_URL") or os.environ.get("AMQP_URL")
    if base:
        yield base
        return
    ensure_rabbitmq()
    vhost = f"vanthu-test-{uuid.uuid4().hex[:8]}"
    if shutil.which("rabbitmqctl") and subprocess.run(["rabbitmqctl", "add_vhost", vhost], capture_output=True).returncode == 0:
        subprocess.run(["rabbitmqctl", "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"], capture_output=True, check=True)
        yield f"amqp://guest:guest@127.0.0.1:5672/{vhost}"
        subprocess.run(["rabbitmqctl", "delete_vhost", vhost], capture_output=True)
    else:
        yield "amqp://guest:guest@127.0.0.1:5672/"


@pytest.fixture
def settings(mongodb_url, amqp_url, tmp_path) -> Settings:
    """Settings with a database prefix of its own for this test (and token keys under its var)."""
    ensure_keys(tmp_path / "auth", ISSUERS)
    return Settings(
        mongodb_url=mongodb_url,
        amqp_url=amqp_url,
        database_prefix=f"t{uuid.uuid4().hex[:10]}",
        var_dir=tmp_path,
    )


REPO = Path(__file__).resolve().parent.parent
