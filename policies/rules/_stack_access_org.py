"""The organization's SCPs and RCPs as the stack rules read them from the policy config."""

from __future__ import annotations

from typing import Any, Literal

from kmsguard.org_policies import OrgPolicies, OrgPoliciesError, read_level
from policies.meta import Findings

_SETTINGS: tuple[tuple[str, Literal["scp", "rcp"]], ...] = (
    ("serviceControlPolicies", "scp"),
    ("resourceControlPolicies", "rcp"),
)


def read_org(config: dict[str, Any], findings: Findings) -> OrgPolicies | None:
    """Parsed SCP/RCP levels; None (after one violation naming the document) when malformed."""
    parsed: dict[str, tuple[Any, ...]] = {}
    for name, kind in _SETTINGS:
        docs = config.get(name) or []
        out = []
        for i, doc in enumerate(docs if isinstance(docs, list) else [docs]):
            try:
                out.append(read_level(doc, kind, f"{name}[{i}]"))
            except OrgPoliciesError as exc:
                problem = str(exc).removeprefix(f"{name}[{i}]: ")
                findings.violation(
                    findings.meta.finding(
                        "org-policy-malformed",
                        f"policy config {name}[{i}]",
                        f"{problem}; a {name[:-8]} document "
                        "must be a valid IAM policy (SCPs without Principal, RCPs with "
                        "Principal)",
                        {"setting": name, "index": i, "problem": problem},
                    )
                )
                return None
        parsed[name] = tuple(out)
    return OrgPolicies(parsed["serviceControlPolicies"], parsed["resourceControlPolicies"])
