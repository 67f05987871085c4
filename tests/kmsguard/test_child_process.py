"""A child process that says when it is ready: awaited without hanging, stopped, cleaned up."""

from __future__ import annotations

import os
import signal
import sys

from kmsguard.child_process import MAX_LINE, ChildProcess

# Generous: only a hang (the case these tests guard against) ever reaches it.
WAIT = 30.0


def _child(script: str) -> ChildProcess:
    return ChildProcess([sys.executable, "-c", script], env=dict(os.environ))


def test_the_ready_line_is_found_after_other_output() -> None:
    with _child(
        "print('warming up'); print('READY 4242', flush=True); import time; time.sleep(600)"
    ) as child:
        line = child.ready_line(WAIT, lambda text: text.startswith("READY"))
        assert line == "READY 4242"
        assert child.lines == ["warming up", "READY 4242"]


def test_first_only_gives_up_at_a_first_line_that_is_not_the_ready_one() -> None:
    with _child("print('oops'); print('4242', flush=True)") as child:
        assert child.ready_line(WAIT, str.isdigit, first_only=True) is None
        assert child.lines == ["oops"]


def test_a_child_that_exits_before_it_is_ready_leaves_its_code_and_stderr() -> None:
    script = "import sys; sys.stderr.write('bad flag --x\\n'); sys.exit(3)"
    with _child(script) as child:
        assert child.ready_line(WAIT, lambda text: True) is None
        assert child.exit_code(wait=WAIT) == 3
        assert child.stderr_text().strip() == "bad flag --x"


def test_a_half_written_line_does_not_hold_the_caller_past_its_timeout() -> None:
    # A line without its newline, then silence: a blocking readline would never return.
    script = "import sys, time; sys.stdout.write('READY'); sys.stdout.flush(); time.sleep(600)"
    with _child(script) as child:
        assert child.ready_line(0.5, lambda text: True) is None
        assert child.lines == []


def test_an_endless_line_is_not_read_past_the_limit() -> None:
    script = (
        f"import sys, time; sys.stdout.write('x' * {4 * MAX_LINE}); sys.stdout.flush();"
        "time.sleep(600)"
    )
    with _child(script) as child:
        assert child.ready_line(WAIT, lambda text: True) is None


def test_a_talkative_stderr_never_blocks_the_child() -> None:
    # Far more than a pipe holds: with stderr on an unread pipe the child would block here.
    script = (
        "import sys; sys.stderr.write('e' * 4_000_000 + 'last words'); sys.stderr.flush();"
        "print('READY', flush=True); import time; time.sleep(600)"
    )
    with _child(script) as child:
        assert child.ready_line(WAIT, lambda text: text == "READY") == "READY"
        assert child.stderr_text(limit=10) == "last words"


def test_stop_asks_first_then_kills_a_child_that_ignores_it() -> None:
    polite = _child("print('READY', flush=True); import time; time.sleep(600)")
    polite.ready_line(WAIT, lambda text: True)
    polite.stop()
    assert polite.proc.returncode == -signal.SIGTERM
    stubborn = _child(
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN);"
        "print('READY', flush=True); time.sleep(600)"
    )
    stubborn.ready_line(WAIT, lambda text: True)
    stubborn.stop(grace=0.2)
    assert stubborn.proc.returncode == -signal.SIGKILL
    assert stubborn.proc.stdout is not None and stubborn.proc.stdout.closed
