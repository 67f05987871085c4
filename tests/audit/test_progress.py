"""Progress: a bar on a terminal, a few plain lines otherwise, nothing when quiet."""

from __future__ import annotations

import io

from kmsguard.audit.progress import Progress


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _run(p: Progress, total: int = 100) -> None:
    for done in range(total + 1):
        p("tables us-east-1", done, total)


def test_plain_lines_off_a_terminal_start_quarters_end() -> None:
    out = io.StringIO()
    _run(Progress(out))
    lines = out.getvalue().splitlines()
    assert lines == [f"tables us-east-1: {n}/100" for n in (0, 25, 50, 75, 100)]
    assert "\r" not in out.getvalue()


def test_a_bar_on_a_terminal() -> None:
    out = _Terminal()
    _run(Progress(out), total=4)
    text = out.getvalue()
    assert text.count("\r") == 5 and text.endswith("] 4/4\n")
    assert "[" + "#" * 30 + "]" in text


def test_quiet_and_empty_phases() -> None:
    out = io.StringIO()
    _run(Progress(out, quiet=True))
    assert out.getvalue() == ""
    p = Progress(out)
    p("keys eu-west-1", 0, 0)
    assert out.getvalue() == "keys eu-west-1: 0/0\n"
