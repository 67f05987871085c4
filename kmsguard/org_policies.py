"""An organization's SCPs and RCPs from a directory of `scp-*.json` / `rcp-*.json` levels."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

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
        if not path.is_file() or path.suffix != ".json" or prefix not in levels:
            raise OrgPoliciesError(f"{path}: unexpected entry; allowed: {ALLOWED}")
        data = path.read_bytes()
        if len(data) > _MAX_BYTES:
            raise OrgPoliciesError(
                f"{path}: {len(data)} bytes; an organization policy is at most {_MAX_BYTES}"
            )
        try:
            levels[prefix].append(
                parse_policy(data, kind="identity" if prefix == "scp" else "resource")
            )
        except PolicyDocumentError as exc:
            raise OrgPoliciesError(f"{path}: {exc}") from None
    return OrgPolicies(tuple(levels["scp"]), tuple(levels["rcp"]))
