"""The organization's SCPs and RCPs as the stack rules read them from the policy config."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from policies.meta import Findings

if TYPE_CHECKING:
    from kmsguard.access import PolicyKind


@dataclass(frozen=True)
class Org:
    """The organization's policies from the policy config, one document per level."""

    scps: tuple[Any, ...] = ()
    rcps: tuple[Any, ...] = ()


def read_org(config: dict[str, Any], findings: Findings) -> Org | None:
    """Parsed SCP/RCP levels; None (after one violation naming the document) when malformed."""
    from kmsguard.access import PolicyDocumentError, parse_policy

    parsed: dict[str, tuple[Any, ...]] = {}
    kinds: tuple[tuple[str, PolicyKind], ...] = (
        ("serviceControlPolicies", "identity"),
        ("resourceControlPolicies", "resource"),
    )
    for name, kind in kinds:
        docs = config.get(name) or []
        out = []
        for i, doc in enumerate(docs if isinstance(docs, list) else [docs]):
            try:
                out.append(parse_policy(doc, kind=kind))
            except PolicyDocumentError as exc:
                findings.violation(
                    findings.meta.finding(
                        "org-policy-malformed",
                        f"policy config {name}[{i}]",
                        f"{exc}; a {name[:-8]} document must be a valid IAM policy (SCPs "
                        "without Principal, RCPs with Principal)",
                        {"setting": name, "index": i, "problem": str(exc)},
                    )
                )
                return None
        parsed[name] = tuple(out)
    return Org(parsed["serviceControlPolicies"], parsed["resourceControlPolicies"])
