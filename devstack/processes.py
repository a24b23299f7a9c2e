"""Starting the pieces as separate processes: the embedded store, RabbitMQ (when missing), the
token, the five services and the local axis. Used by `vanthu up`, the end-to-end tests and
the benchmarks, so all three run the system the same way.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

SERVICES = ("gateway", "intake", "dispatch", "signing", "archive", "portal")
DEFAULT_PORTS = {"gateway": 8101, "intake": 8102, "dispatch": 8103, "signing": 8104, "archive": 8105, "portal": 8106}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


@dataclass
class ManagedProcess:
    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen | None = None
    ready_url: str | None = None

    def start(self) -> "ManagedProcess":
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            self.argv, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        return self

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.alive:
            os.killpg(self.process.pid, sig)
            self.process.wait(timeout=30)

    def stop(self, timeout: float = 15) -> None:
        if not self.alive:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def wait_ready(self, timeout: float = 60, *, need_ready: bool = True) -> None:
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            if not self.alive:
                raise RuntimeError(f"{self.name} exited ({self.process.returncode}); log: {self.log_path}\n{self.tail()}")
            try:
                response = httpx.get(self.ready_url, timeout=2)
                if response.status_code == 200 or not need_ready:
                    return
                last = response.text
            except httpx.HTTPError as exc:
                last = str(exc)
            time.sleep(0.2)
        raise TimeoutError(f"{self.name} not ready after {timeout}s ({last}); log: {self.log_path}\n{self.tail()}")

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@dataclass
class Stack:
    """A running system; `env` is what every process of it sees."""

    var_dir: Path
    env: dict[str, str]
    processes: dict[str, ManagedProcess] = field(default_factory=dict)

    def add(self, name: str, argv: list[str], ready_url: str | None, extra_env: dict[str, str] | None = None) -> ManagedProcess:
        env = {**self.env, **(extra_env or {})}
        proc = ManagedProcess(name, argv, env, self.var_dir / "logs" / f"{name}.log", ready_url=ready_url)
        self.processes[name] = proc
        return proc

    def stop_all(self) -> None:
        for proc in reversed(list(self.processes.values())):
            proc.stop()


def python() -> str:
    return sys.executable


def start_embedded_store(stack: Stack, port: int, data_dir: Path, *, sync_on_commit: bool = True) -> ManagedProcess:
    """SecantusDB (GPL-2.0-only) as a separate process speaking the MongoDB wire protocol.

    `--sync-on-commit`: an acknowledged commit is on disk. Without it the store's log is flushed
    later, and a killed store process lost commits it had acknowledged (the fault suite: signing's
    signature and signed PDF gone, the message announcing them already sent). A real MongoDB gives
    the same with w: majority (journaled). Cost: `bench/bench_store_durability.py`."""
    data_dir.mkdir(parents=True, exist_ok=True)
    proc = stack.add(
        "store",
        [python(), "-m", "secantus", "--host", "127.0.0.1", "--port", str(port), "--storage-path", str(data_dir),
         *(["--sync-on-commit"] if sync_on_commit else [])],
        ready_url=None,
    ).start()
    deadline = time.monotonic() + 60
    while not port_open("127.0.0.1", port):
        if not proc.alive:
            raise RuntimeError(f"embedded store exited; log {proc.log_path}\n{proc.tail()}")
        if time.monotonic() > deadline:
            raise TimeoutError("embedded store did not open its port")
        time.sleep(0.2)
    return proc


def ensure_rabbitmq(host: str = "127.0.0.1", port: int = 5672, timeout: float = 90) -> None:
    """Start the local RabbitMQ if it is installed but stopped (Debian's does not start itself)."""
    if port_open(host, port):
        return
    if shutil.which("rabbitmq-server") is None:
        raise RuntimeError("RabbitMQ is not installed: apt-get install -y rabbitmq-server")
    subprocess.run(["rabbitmq-server", "-detached"], check=False)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ping = subprocess.run(["rabbitmq-diagnostics", "-q", "ping"], capture_output=True)
        if ping.returncode == 0 and port_open(host, port):
            return
        time.sleep(1)
    raise TimeoutError("RabbitMQ did not start")


def service_env(base: dict[str, str], ports: dict[str, int]) -> dict[str, str]:
    env = dict(base)
    for name, port in ports.items():
        env[f"{name.upper()}_URL"] = f"http://127.0.0.1:{port}"
    return env


def replica_name(name: str, replica: int) -> str:
    """`intake` for the first replica, `intake-2`, `intake-3`… for the others."""
    return name if replica <= 1 else f"{name}-{replica}"


def add_service(stack: Stack, name: str, port: int, replica: int = 1) -> ManagedProcess:
    """Replica 1 listens on the service's URL; another replica on its own port (BIND_PORT)."""
    extra = None if replica <= 1 else {"BIND_PORT": str(port), "SERVICE_REPLICA": str(replica)}
    return stack.add(replica_name(name, replica), [python(), "-m", f"services.{name}"],
                     ready_url=f"http://127.0.0.1:{port}/readyz", extra_env=extra)
