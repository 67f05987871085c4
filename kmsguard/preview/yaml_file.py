"""One reading of the YAML files a user gives: errors named with the file, size bounded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

MAX_NODES = 100_000  # values in one file, aliases expanded


def read_yaml(path: Path, error: type[Exception], missing: str = "no such file") -> Any:
    """The file's data; `error` says what is wrong with it, naming the file (and the line)."""
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{path}: {missing}") from None
    except OSError as exc:
        raise error(f"{path}: cannot read it ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise error(f"{path}: not UTF-8 text") from None
    try:
        # SafeLoader: no Python objects; aliases share already-built nodes.
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise error(f"{path}: not valid YAML{where}: {problem}") from None
    if not within(data, MAX_NODES):
        # Nested aliases ("billion laughs") would expand exponentially once turned to JSON.
        raise error(
            f"{path}: more than {MAX_NODES:,} values once its aliases are expanded; "
            "write the values out"
        )
    return data


def within(data: Any, budget: int) -> bool:
    """Whether `data`, aliases expanded, has at most `budget` values (stops at the budget)."""
    stack = [data]
    seen = 0
    while stack:
        node = stack.pop()
        seen += 1
        if seen > budget:
            return False
        if isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return True
