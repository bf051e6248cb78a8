"""A detached child process with a pid file and a log: start, status, stop, wait until ready."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from serve.daemons.errors import DaemonStartFailed, PortBusy


@dataclass(slots=True, frozen=True)
class DaemonStatus:
    """Whether the daemon runs, its pid, and where it logs."""

    name: str
    running: bool
    pid: int | None
    log_path: Path


class Daemon:
    """One named background process whose pid and output live under ``run_dir``."""

    def __init__(self, name: str, run_dir: Path) -> None:
        self.name = name
        self.run_dir = run_dir
        self.pid_path = run_dir / f"{name}.pid"
        self.log_path = run_dir / f"{name}.log"

    def status(self) -> DaemonStatus:
        pid = self._read_pid()
        running = pid is not None and _alive(pid)
        return DaemonStatus(self.name, running, pid if running else None, self.log_path)

    def start(self, command: Sequence[str], env: Mapping[str, str] | None = None) -> int:
        """Start the command in its own session, output appended to the log; returns the pid."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            log.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(command)}\n".encode())
            process = subprocess.Popen(
                list(command),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **(env or {})},
                start_new_session=True,
            )
        self.pid_path.write_text(str(process.pid))
        self._process = process
        return process.pid

    def wait_ready(self, ready: Callable[[], bool], timeout_s: float, interval_s: float = 0.5) -> float:
        """Poll ``ready`` until true; returns seconds waited.

        Raises:
            DaemonStartFailed: the process exited, or the timeout passed (then it is stopped).
        """
        started = time.monotonic()
        while time.monotonic() - started < timeout_s:
            if not self.status().running:
                raise DaemonStartFailed(f"{self.name} exited during start-up:\n{self.log_tail()}")
            if ready():
                return time.monotonic() - started
            time.sleep(interval_s)
        self.stop()
        raise DaemonStartFailed(
            f"{self.name} not ready after {timeout_s:.0f} s, stopped it:\n{self.log_tail()}"
        )

    def stop(self, timeout_s: float = 30.0) -> bool:
        """SIGTERM the process group, SIGKILL after the timeout; True when one was running."""
        pid = self._read_pid()
        if pid is None or not _alive(pid):
            self.pid_path.unlink(missing_ok=True)
            return False
        _signal_group(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if _alive(pid):
            _signal_group(pid, signal.SIGKILL)
            while _alive(pid):
                time.sleep(0.1)
        self.pid_path.unlink(missing_ok=True)
        return True

    def log_tail(self, lines: int = 30) -> str:
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def _read_pid(self) -> int | None:
        try:
            return int(self.pid_path.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # Our own child that exited is a zombie until reaped; reap it so it reads as dead.
    try:
        reaped, _ = os.waitpid(pid, os.WNOHANG)
        return reaped == 0
    except ChildProcessError:
        return _not_zombie(pid)


def _not_zombie(pid: int) -> bool:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return fields[0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def _signal_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig)


def port_in_use(host: str, port: int) -> bool:
    """Whether something accepts TCP connections on host:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def require_free_port(host: str, port: int, what: str) -> None:
    """Raise PortBusy naming the port when another process already listens there."""
    if port_in_use(host, port):
        raise PortBusy(
            f"{what}: port {host}:{port} is already in use by another process; stop it or choose another port"
        )


def split_host_port(address: str, default_port: int) -> tuple[str, int]:
    """``host:port`` → (host, port); the first of a comma-separated list."""
    first = address.split(",")[0].strip()
    host, _, port = first.rpartition(":")
    return (host or first, int(port)) if port.isdigit() else (first, default_port)
