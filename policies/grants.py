"""KMS grants declared in the stack (`aws:kms/grant:Grant`) in ListGrants shape."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kmsguard.contract import AwsType
from policies.stack.graph import Node, StackView
from policies.stack.keys import stack_keys
from policies.values import is_unknown


@dataclass
class StackGrant:
    """One grant on a key: its ListGrants-shaped document, or why it cannot be known now."""

    node: Node
    grant: dict[str, Any] | None
    problem: str = ""

    @property
    def label(self) -> str:
        return f"grant {self.node.name!r}"


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value and not is_unknown(value) else None


def _constraints(raw: Any) -> dict[str, Any] | None:
    """Pulumi's `constraints` list (camelCase blocks) as one ListGrants `Constraints` object."""
    out: dict[str, Any] = {}
    for block in raw if isinstance(raw, list) else [raw] if isinstance(raw, dict) else []:
        if not isinstance(block, dict):
            continue
        for src, dst in (
            ("encryptionContextSubset", "EncryptionContextSubset"),
            ("encryptionContextEquals", "EncryptionContextEquals"),
        ):
            value = block.get(src)
            if isinstance(value, dict) and value:
                out[dst] = value
    return out or None


def key_grants(view: StackView, key: Node) -> list[StackGrant]:
    """The stack's grants on `key` (linked by dependency or by one of its identifiers)."""
    out = []
    for n in stack_keys(view).linked_to_key(AwsType.KMS_GRANT, key):
        grantee = n.props.get("granteePrincipal")
        ops = n.props.get("operations")
        if is_unknown(grantee) or not _text(grantee):
            out.append(StackGrant(n, None, "its grantee principal is unknown during preview"))
            continue
        if is_unknown(ops) or not isinstance(ops, list) or any(is_unknown(o) for o in ops):
            out.append(StackGrant(n, None, "its operations are unknown during preview"))
            continue
        if is_unknown(n.props.get("constraints")):
            out.append(StackGrant(n, None, "its constraints are unknown during preview"))
            continue
        grant: dict[str, Any] = {
            "GrantId": _text(n.props.get("grantId")) or n.name,
            "GranteePrincipal": grantee,
            "Operations": ops,
        }
        constraints = _constraints(n.props.get("constraints"))
        if constraints:
            grant["Constraints"] = constraints
        out.append(StackGrant(n, grant))
    return out


def satisfying_context(grant: dict[str, Any]) -> dict[str, str]:
    """An encryption context (as `kms:EncryptionContext:<key>` entries) meeting the constraints:
    the grantee can always send one, so the grant's reach is judged with it."""
    constraints = grant.get("Constraints") or {}
    pairs = constraints.get("EncryptionContextEquals") or constraints.get("EncryptionContextSubset")
    pairs = pairs if isinstance(pairs, dict) else {}
    return {f"kms:EncryptionContext:{k}": str(v) for k, v in pairs.items()}
