"""The whole system on one machine: the store (embedded when MONGODB_URL is unset), RabbitMQ,
the token, the local axis with its simulated agencies, and the five services — each its own
process. `vanthu up`, the end-to-end tests and the benchmark all start it through `start_stack`.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from devstack.processes import (
    DEFAULT_PORTS,
    SERVICES,
    Stack,
    add_service,
    ensure_rabbitmq,
    free_port,
    python,
    start_embedded_store,
)
from shared.auth import PORTAL_ISSUER, ensure_keys
from shared.config import REPO_ROOT

AGENCIES_FILE = REPO_ROOT / "deploy" / "local-axis" / "agencies.json"
ISSUERS = tuple(dict.fromkeys((PORTAL_ISSUER, *SERVICES)))
DEFAULT_AXIS_PORT = 8200
DEFAULT_TSA_PORT = 8210
DEFAULT_STORE_PORT = 27018


@dataclass
class StackOptions:
    var_dir: Path
    amqp_url: str | None = None
    mongodb_url: str | None = None
    database_prefix: str = "vanthu"
    ports: dict[str, int] | None = None
    axis_port: int = DEFAULT_AXIS_PORT
    store_port: int = DEFAULT_STORE_PORT
    with_axis: bool = True
    tsa_port: int = DEFAULT_TSA_PORT
    with_tsa: bool = True  # the local time-stamping server (PAdES B-T); off: signatures are B-B
    axis_poll_interval: float = 2.0
    extra_env: dict[str, str] | None = None
    # Processes per service (competing consumers, R-13 scale-out); the extra ones on free ports.
    replicas: int = 1
    # Another commune's system on a running axis (tests/resilience): its URL instead of our own
    # axis, the agencies file our axis starts with, and more CA files to trust (the peer's PKI).
    axis_url: str | None = None
    agencies_file: Path = AGENCIES_FILE
    extra_trust_roots: list[Path] | None = None

    @classmethod
    def isolated(cls, var_dir: Path, **kwargs) -> "StackOptions":
        """Free ports everywhere (tests, benchmarks): runs beside a development system."""
        return cls(
            var_dir=var_dir,
            ports={name: free_port() for name in SERVICES},
            axis_port=free_port(),
            tsa_port=free_port(),
            store_port=free_port(),
            **kwargs,
        )


def token_setup(var_dir: Path, env: dict[str, str]) -> Path:
    """Initialise the token (idempotent): keys on SoftHSM2, dev CA, images."""
    token_dir = var_dir / "token"
    subprocess.run(
        [python(), "-m", "services.signing.adapters.token_setup", "--config-dir", str(token_dir)],
        env=env, check=True, capture_output=True,
    )
    return token_dir


def start_stack(options: StackOptions) -> Stack:
    var_dir = options.var_dir.resolve()
    var_dir.mkdir(parents=True, exist_ok=True)
    ports = options.ports or dict(DEFAULT_PORTS)
    env = {**os.environ, **(options.extra_env or {})}
    env.pop("PYTHONPATH", None)
    stack = Stack(var_dir, env)
    try:
        _start(stack, options, ports)
    except BaseException:
        stack.stop_all()
        raise
    return stack


def _start(stack: Stack, options: StackOptions, ports: dict[str, int]) -> None:
    var_dir = stack.var_dir
    amqp_url = options.amqp_url or os.environ.get("AMQP_URL")
    if not amqp_url:
        ensure_rabbitmq()
        amqp_url = "amqp://guest:guest@127.0.0.1:5672/"
    mongodb_url = options.mongodb_url or os.environ.get("MONGODB_URL")
    if not mongodb_url:
        start_embedded_store(stack, options.store_port, var_dir / "store")
        mongodb_url = f"mongodb://127.0.0.1:{options.store_port}/"

    token_dir = var_dir / "token"
    env = stack.env
    env.update(
        {
            "AMQP_URL": amqp_url,
            "MONGODB_URL": mongodb_url,
            "DATABASE_PREFIX": options.database_prefix,
            "VAR_DIR": str(var_dir),
            "TOKEN_CONFIG_DIR": str(token_dir),
            "SOFTHSM2_CONF": str(token_dir / "softhsm2.conf"),
            "AXIS_URL": options.axis_url or f"http://127.0.0.1:{options.axis_port}",
            "AXIS_POLL_INTERVAL_SECONDS": str(options.axis_poll_interval),
        }
    )
    for name, port in ports.items():
        env[f"{name.upper()}_URL"] = f"http://127.0.0.1:{port}"
    token_setup(var_dir, env)
    # Token issuers' keys (R-15.5): the portal names users, each service names only itself.
    auth_dir = var_dir / "auth"
    ensure_keys(auth_dir, ISSUERS)
    env["AUTH_KEYS_DIR"] = str(auth_dir)

    axis_dir = var_dir / "axis"
    own_ca = token_dir / "pki" / "ca.crt.pem"
    peer_roots = [str(own_ca)]
    tsa_ca: str | None = None
    if options.with_tsa:
        tsa_dir = var_dir / "tsa"
        tsa = stack.add(
            "tsa",
            [python(), "-m", "localtsa", "--host", "127.0.0.1", "--port", str(options.tsa_port), "--data-dir", str(tsa_dir)],
            ready_url=f"http://127.0.0.1:{options.tsa_port}/healthz",
        ).start()
        tsa.wait_ready(60)
        env["TSA_URL"] = f"http://127.0.0.1:{options.tsa_port}/"
        tsa_ca = str(tsa_dir / "ca.crt.pem")  # timestamps must chain to a root too
        peer_roots.append(tsa_ca)
    if options.with_axis and not options.axis_url:
        axis = stack.add(
            "axis",
            [python(), "-m", "localaxis", "--host", "127.0.0.1", "--port", str(options.axis_port),
             "--data-dir", str(axis_dir), "--agencies", str(options.agencies_file)],
            ready_url=f"http://127.0.0.1:{options.axis_port}/healthz",
            extra_env={"LOCALAXIS_PEER_TRUST_ROOTS": os.pathsep.join([*peer_roots, *map(str, options.extra_trust_roots or [])])},
        ).start()
        axis.wait_ready(90)
    # Trust roots the operator manages (R-6.1): the peers' CAs (published by the axis for the
    # simulated agencies), our own CA (our documents coming back, e.g. replies quoting them), the TSA's.
    axis_roots = [] if options.axis_url else [str(axis_dir / "pki" / "trust-roots.pem")]  # a peer's axis: in extra_trust_roots
    env["TRUST_ROOTS"] = json.dumps([*axis_roots, str(own_ca), *filter(None, [tsa_ca]),
                                     *map(str, options.extra_trust_roots or [])])

    for name in SERVICES:
        add_service(stack, name, ports[name]).start()
        for replica in range(2, options.replicas + 1):
            add_service(stack, name, free_port(), replica).start()
    for proc in [p for p in stack.processes.values() if p.name.split("-")[0] in SERVICES]:
        proc.wait_ready(90)
