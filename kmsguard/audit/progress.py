"""Progress on stderr: a bar on a terminal, a few plain lines otherwise."""

from __future__ import annotations

import sys
import threading
from typing import TextIO

WIDTH = 30


class Progress:
    def __init__(self, stream: TextIO | None = None, quiet: bool = False) -> None:
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._lock = threading.Lock()
        self._last: dict[str, int] = {}

    def __call__(self, phase: str, done: int, total: int) -> None:
        if self.quiet:
            return
        with self._lock:
            if self.tty:
                filled = WIDTH * done // total if total else WIDTH
                bar = "#" * filled + "-" * (WIDTH - filled)
                end = "\n" if done >= total else ""
                self.stream.write(f"\r{phase:<24} [{bar}] {done}/{total}{end}")
                self.stream.flush()
                return
            # Plain lines: the start, each quarter, the end.
            quarter = 4 * done // total if total else 4
            if done == 0 or done >= total or quarter > self._last.get(phase, 0):
                if self._last.get(phase) == 4 and done >= total:
                    return
                self._last[phase] = 4 if done >= total else quarter
                self.stream.write(f"{phase}: {done}/{total}\n")
                self.stream.flush()
