"""A RabbitMQ node of the suite's own (issue 7 item 6): restarting a broker is one of the faults,
and the machine's shared broker serves other tests, so the suite starts, restarts and stops a
separate node (own name, ports, data and log directories, Erlang cookie) beside it."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from devstack.processes import free_port, port_open

# The Debian wrappers in /usr/sbin switch to the rabbitmq user and reset the environment; the
# scripts behind them honour RABBITMQ_* variables, and as root the node keeps to our directories.
_BIN = Path("/usr/lib/rabbitmq/bin")


def _tool(name: str) -> str:
    path = _BIN / name
    return str(path) if path.exists() else (shutil.which(name) or name)


def available() -> bool:
    return Path(_tool("rabbitmq-server")).exists()


@dataclass
class OwnBroker:
    base: Path
    node: str = field(default_factory=lambda: f"vanthu-res-{uuid.uuid4().hex[:6]}@localhost")
    amqp_port: int = field(default_factory=free_port)
    dist_port: int = field(default_factory=free_port)
    management_port: int = field(default_factory=free_port)

    @property
    def amqp_url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.amqp_port}/"

    @property
    def management_url(self) -> str:
        return f"http://127.0.0.1:{self.management_port}"

    def env(self) -> dict[str, str]:
        self.base.mkdir(parents=True, exist_ok=True)
        (self.base / "enabled_plugins").write_text("[rabbitmq_management].\n")
        (self.base / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = 127.0.0.1:{self.amqp_port}\n"
            f"management.tcp.port = {self.management_port}\n"
            "management.tcp.ip = 127.0.0.1\n"
            # a small machine shared by many: do not stop publishers for lack of disk or memory
            "disk_free_limit.absolute = 50MB\n"
            "vm_memory_high_watermark.relative = 0.8\n"
        )
        home = self.base / "home"
        home.mkdir(exist_ok=True)
        return {
            **os.environ,
            "HOME": str(home),  # own Erlang cookie, never the shared broker's
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.amqp_port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(self.base / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.base / "log"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.base / "enabled_plugins"),
            "RABBITMQ_CONFIG_FILE": str(self.base / "rabbitmq.conf"),
            "RABBITMQ_PID_FILE": str(self.base / "node.pid"),
            "ERL_CRASH_DUMP": str(self.base / "erl_crash.dump"),
        }

    def ctl(self, *args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
        # cwd: the node's own directory, so an Erlang crash dump never lands in the repository
        return subprocess.run([_tool("rabbitmqctl"), "-n", self.node, *args], env=self.env(), cwd=self.base,
                              capture_output=True, text=True, timeout=timeout, check=check)

    def start(self, timeout: float = 180) -> "OwnBroker":
        subprocess.run([_tool("rabbitmq-server"), "-detached"], env=self.env(), cwd=self.base, check=True,
                       capture_output=True, timeout=60)
        self.await_startup(timeout)
        return self

    def await_startup(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        # await_startup answers 69 until the Erlang node itself is up: ask again until then
        while self.ctl("await_startup", "--timeout", "60", timeout=120, check=False).returncode != 0:
            if time.monotonic() > deadline:
                raise TimeoutError(f"RabbitMQ node {self.node} did not start; logs under {self.base / 'log'}")
            time.sleep(1)
        while not (port_open("127.0.0.1", self.amqp_port) and self._management_answers()):
            if time.monotonic() > deadline:
                raise TimeoutError(f"RabbitMQ node {self.node} not serving; logs under {self.base / 'log'}")
            time.sleep(0.5)

    def _management_answers(self) -> bool:
        try:
            return httpx.get(f"{self.management_url}/api/overview", auth=("guest", "guest"), timeout=3).status_code == 200
        except httpx.HTTPError:
            return False

    def stop_app(self) -> None:
        """The broker goes away (connections closed, ports shut) while the node stays."""
        self.ctl("stop_app")

    def start_app(self) -> None:
        self.ctl("start_app")
        self.await_startup()

    def stop(self) -> None:
        self.ctl("stop", timeout=120, check=False)

    def add_vhost(self, name: str) -> str:
        self.ctl("add_vhost", name)
        self.ctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
        return f"amqp://guest:guest@127.0.0.1:{self.amqp_port}/{name}"

    def queues(self, vhost: str) -> list[dict]:
        from urllib.parse import quote

        response = httpx.get(f"{self.management_url}/api/queues/{quote(vhost, safe='')}", auth=("guest", "guest"), timeout=30)
        response.raise_for_status()
        return response.json()
