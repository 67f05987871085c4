"""A child process that says on stdout when it is ready: started, awaited, stopped, cleaned up."""

from __future__ import annotations

import os
import selectors
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

# A ready line longer than this is not one: the reading stops there (and the child is not ready).
MAX_LINE = 64 * 1024


def stop(proc: subprocess.Popen[Any], grace: float = 10.0) -> None:
    """Stop a child (terminate, then kill when `grace` seconds pass) and close its pipes."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()


class ChildProcess:
    """A command run with its stdout piped to us and its stderr kept in a temporary file.

    Stderr goes to a file, not a pipe, so a talkative child never blocks on a pipe nobody
    reads, and all of it is there to explain a failed start.
    """

    def __init__(
        self,
        command: Sequence[str],
        *,
        env: Mapping[str, str],
        cwd: Path | None = None,
    ) -> None:
        # Lives as long as the child: closed by stop().
        self._stderr: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115
        try:
            self.proc = subprocess.Popen(
                list(command),
                cwd=cwd,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=self._stderr,
            )
        except BaseException:
            self._stderr.close()
            raise
        # The stdout lines read while waiting for the ready one (it included), stripped.
        self.lines: list[str] = []

    @property
    def pid(self) -> int:
        return self.proc.pid

    def ready_line(
        self, timeout: float, ready: Callable[[str], bool], *, first_only: bool = False
    ) -> str | None:
        """The first stdout line `ready` accepts, stripped; None when `timeout` seconds pass,
        the output ends, or (`first_only`) the first line is another one."""
        out = self.proc.stdout
        assert out is not None
        fd = out.fileno()
        deadline = time.monotonic() + timeout
        pending = b""
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
            while True:
                left = deadline - time.monotonic()
                if left <= 0 or not selector.select(timeout=left):
                    return None
                chunk = os.read(fd, 65536)
                if not chunk:
                    return None  # the child closed its output (it exited)
                pending += chunk
                while b"\n" in pending:
                    raw, pending = pending.split(b"\n", 1)
                    line = raw.decode(errors="replace").strip()
                    self.lines.append(line)
                    if ready(line):
                        return line
                    if first_only:
                        return None
                if len(pending) > MAX_LINE:
                    return None

    def stderr_text(self, limit: int = 64 * 1024) -> str:
        """The last `limit` characters the child wrote to stderr so far."""
        self._stderr.flush()
        size = self._stderr.seek(0, os.SEEK_END)
        self._stderr.seek(max(0, size - limit * 4))
        return self._stderr.read().decode(errors="replace")[-limit:]

    def exit_code(self, wait: float) -> int | None:
        """The exit status, waiting up to `wait` seconds for it; None if it still runs."""
        try:
            return self.proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            return None

    def kill(self) -> None:
        """Kill it at once and wait for it (its stderr is then complete)."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()

    def stop(self, grace: float = 10.0) -> None:
        """Stop it gracefully (killed after `grace` seconds) and release its pipes and file."""
        try:
            stop(self.proc, grace)
        finally:
            self._stderr.close()

    def __enter__(self) -> ChildProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
