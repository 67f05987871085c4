"""An organization's SCPs and RCPs from a directory of `scp-*.json` / `rcp-*.json` levels."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from kmsguard.access import Policy, PolicyDocumentError, parse_policy

ALLOWED = "scp-<name>.json and rcp-<name>.json files (one level of the organization each)"
_MAX_BYTES = 5120  # AWS Organizations' maximum size of one SCP or RCP document


class OrgPoliciesError(ValueError):
    """The directory or one of its documents is unusable; the message names the file and path."""


@dataclass(frozen=True)
class OrgPolicies:
    """SCP and RCP levels, in file-name order; each level must allow a request."""

    scps: tuple[Policy, ...] = ()
    rcps: tuple[Policy, ...] = ()


def load_org_policies(directory: str | Path) -> OrgPolicies:
    """Parse every level; raise OrgPoliciesError on the first problem."""
    root = Path(directory)
    if not root.is_dir():
        raise OrgPoliciesError(f"{root}: not a directory; expected {ALLOWED}")
    levels: dict[str, list[Policy]] = {"scp": [], "rcp": []}
    for path in sorted(root.iterdir()):
        prefix = path.name.split("-", 1)[0]
        if not path.is_file() or path.suffix != ".json" or prefix not in ("scp", "rcp"):
            raise OrgPoliciesError(f"{path}: unexpected entry; allowed: {ALLOWED}")
        kind: Literal["scp", "rcp"] = "scp" if prefix == "scp" else "rcp"
        levels[kind].append(read_level(path.read_bytes(), kind, str(path)))
    return OrgPolicies(tuple(levels["scp"]), tuple(levels["rcp"]))


def read_level(document: Any, kind: Literal["scp", "rcp"], where: str) -> Policy:
    """One SCP (identity-policy grammar, no Principal) or RCP (resource grammar) level, as text,
    bytes or a parsed document; OrgPoliciesError names `where` and what is wrong."""
    size = _size(document)
    if size > _MAX_BYTES:
        raise OrgPoliciesError(
            f"{where}: {size} bytes; an organization policy is at most {_MAX_BYTES}"
        )
    try:
        return parse_policy(document, kind="identity" if kind == "scp" else "resource")
    except PolicyDocumentError as exc:
        raise OrgPoliciesError(f"{where}: {exc}") from None


def _size(document: Any) -> int:
    if isinstance(document, bytes):
        return len(document)
    if isinstance(document, str):
        return len(document.encode("utf-8"))
    # A parsed document is measured as AWS stores it, compact JSON.
    try:
        return len(json.dumps(document, separators=(",", ":")).encode("utf-8"))
    except (TypeError, ValueError):
        return 0  # not JSON data: parse_policy names the problem
