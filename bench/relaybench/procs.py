"""Child processes of one benchmark run: CPU pinning, start-up, and guaranteed clean-up."""

from __future__ import annotations

import contextlib
import ctypes
import logging
import selectors
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1
TERMINATE_GRACE_SECONDS = 5.0


class StartError(RuntimeError):
    """A child process did not start or did not become ready."""


def _die_with_parent() -> None:
    """In the child, before exec: die too if the benchmark is killed (no cleanup ran)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def pinned(command: Sequence[str], cpus: str | None) -> list[str]:
    """Prefix a command with ``taskset -c CPUS`` (taskset execs, so the pid is kept)."""
    return ["taskset", "-c", cpus, *command] if cpus else list(command)


def free_port(address: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((address, 0))
        return int(sock.getsockname()[1])


def cpu_ticks(pid: int) -> int | None:
    """utime + stime of a whole process in clock ticks (all threads, live and exited)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return int(fields[11]) + int(fields[12])


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (relays that fork workers are measured whole)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(text[text.rindex(")") + 2:].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    found: list[int] = []
    pending = [pid]
    while pending:
        for child in children.get(pending.pop(), []):
            found.append(child)
            pending.append(child)
    return found


def tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def exited(self) -> int | None:
        return self.process.poll()

    def read_line(self, deadline: float) -> str:
        """One line of the child's stdout, waiting at most until ``deadline`` (monotonic)."""
        stream: IO[bytes] | None = self.process.stdout
        if stream is None:
            raise StartError(f"{self.name}: stdout is not captured")
        with selectors.DefaultSelector() as selector:
            selector.register(stream, selectors.EVENT_READ)
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise StartError(f"{self.name}: no output in time; log:\n"
                                     f"{tail(self.log_path)}")
                if selector.select(remaining):
                    line = stream.readline()
                    if not line:
                        raise StartError(f"{self.name} exited (status {self.process.wait()});"
                                         f" log:\n{tail(self.log_path)}")
                    return line.decode(errors="replace").strip()


class ChildProcesses:
    """Starts children and, on exit (also on Ctrl-C or an exception), ends every one."""

    def __init__(self, log_dir: Path) -> None:
        self._log_dir = log_dir
        self._children: list[Child] = []

    def __enter__(self) -> ChildProcesses:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop_all()

    def start(self, name: str, command: Sequence[str], *, capture_stdout: bool = False,
              cwd: Path | None = None, env: dict[str, str] | None = None) -> Child:
        log_path = self._log_dir / f"{name}.log"
        log.debug("starting %s: %s", name, " ".join(command))
        with log_path.open("wb") as log_file:
            try:
                process = subprocess.Popen(
                    list(command), stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE if capture_stdout else log_file,
                    stderr=log_file, cwd=cwd, env=env, start_new_session=True,
                    preexec_fn=_die_with_parent)  # the benchmark is single-threaded
            except OSError as error:
                raise StartError(f"cannot start {name} ({command[0]}): {error}") from None
        child = Child(name, process, log_path)
        self._children.append(child)
        return child

    def stop_all(self) -> None:
        """Newest first (generator, relay, stub: the relay can still DPR the stub)."""
        children, self._children = self._children, []
        for child in reversed(children):
            self._stop(child)

    @staticmethod
    def _stop(child: Child) -> None:
        """SIGTERM, then SIGKILL if it is still running after a grace period."""
        if child.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                child.process.send_signal(signal.SIGTERM)
            try:
                child.process.wait(TERMINATE_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                log.warning("%s (pid %s) ignored SIGTERM: killing it", child.name, child.pid)
                with contextlib.suppress(ProcessLookupError):
                    child.process.kill()
                child.process.wait()
        if child.process.stdout is not None:
            child.process.stdout.close()
