"""Reads argparse `--help` output: which options come with no text of their own."""

from __future__ import annotations

import re

_OPTION = re.compile(r"^  (-\S+)")


def undocumented_options(help_text: str) -> list[str]:
    """Options whose entry in the `options:` section has nothing after the invocation."""
    missing: list[str] = []
    entry: list[str] = []

    def close() -> None:
        if entry:
            head, *rest = entry
            # The invocation ends at the first run of two spaces; the help follows it or the
            # next, deeper-indented lines.
            _, _, text = head.strip().partition("  ")
            if not text.strip() and not any(line.strip() for line in rest):
                missing.append(head.split()[0].rstrip(","))

    for line in help_text.split("options:", 1)[-1].splitlines():
        if _OPTION.match(line):
            close()
            entry = [line]
        elif line.startswith("    ") and entry:
            entry.append(line)
        else:
            close()
            entry = []
    close()
    return missing
