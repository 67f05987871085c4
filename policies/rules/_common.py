"""Helpers shared by the rule modules: frameworks, resource props, table key checks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pulumi_policy import ResourceValidationArgs
from pulumi_policy.proxy import _DictProxy

from kmsguard.contract import AwsType
from policies.meta import Control
from policies.values import DocumentError, load_document, plain

SECURITY_HUB = "AWS Foundational Security Best Practices (Security Hub)"
CIS = "CIS AWS Foundations Benchmark"
AWS_CONFIG = "AWS Config managed rules"


# Config items naming accounts and organizations. The lengths bound them in every validator:
# Python's `$` (kmsguard-preview's jsonschema) also matches before a final newline, the
# engine's does not; "123456789012\n" names no account in either. Organization ids vary in
# length, so whitespace is refused outright (RE2, the engine's regexp, has no lookahead).
ACCOUNT_ID_ITEM = {"type": "string", "pattern": "^[0-9]{12}$", "minLength": 12, "maxLength": 12}
ORG_ID_ITEM = {"type": "string", "pattern": "^o-[a-z0-9]{10,32}$", "not": {"pattern": "\\s"}}


def hub(control: str) -> Control:
    return Control(SECURITY_HUB, control, "1.0.0")


def cis(control: str) -> Control:
    return Control(CIS, control, "3.0.0")


def props_of(args: ResourceValidationArgs) -> dict[str, Any]:
    props = plain(args.props)
    return props if isinstance(props, dict) else {}


def prop_of(args: ResourceValidationArgs, name: str) -> Any:
    """One property, as `props_of(args).get(name)` reads it, without unwrapping the others."""
    props = args.props
    target = props["__target"] if isinstance(props, _DictProxy) else props
    return plain(target.get(name)) if isinstance(target, Mapping) else None


def props_named(args: ResourceValidationArgs, *names: str) -> dict[str, Any]:
    """Just the named properties, as `props_of(args)` has them: the rules reading a key's ARN
    and id need not unwrap its whole policy document."""
    return {name: prop_of(args, name) for name in names}


def label(args: ResourceValidationArgs) -> str:
    return f"{args.resource_type.split(':')[-1]} {args.name!r}"


def unknown_action_notes(doc: dict[str, Any], kind: Literal["identity", "resource"]) -> list[str]:
    """One note per Action/NotAction entry matching nothing in the IAM catalog, with the
    closest real actions (a typo grants or denies nothing, silently)."""
    from kmsguard.access import PolicyDocumentError, unknown_actions
    from kmsguard.access.catalog import SUGGESTED_PER_DOCUMENT, closest_actions, quoted

    try:
        unknown = unknown_actions(doc, kind=kind)
    except PolicyDocumentError:
        return []  # malformed documents are reported where they are judged
    notes = []
    for i, (path, action) in enumerate(unknown):
        close = closest_actions(action) if i < SUGGESTED_PER_DOCUMENT else []
        hint = f" (closest: {', '.join(close)})" if close else ""
        notes.append(
            f"{path}: {quoted(action)} matches no action in the IAM catalog, so it grants or "
            f"denies nothing{hint}"
        )
    return notes


KEY_POLICY_TYPES = (AwsType.KMS_KEY, AwsType.KMS_KEY_POLICY)


class KeyPolicyInput:
    """The key policy a Key or KeyPolicy resource declares (document, unknown, absent or bad)."""

    def __init__(self, args: ResourceValidationArgs) -> None:
        self.applies = args.resource_type in KEY_POLICY_TYPES
        self.document: Any = None
        self.error = ""
        self.raw: Any = None
        if not self.applies:
            return
        self.raw = prop_of(args, "policy")
        try:
            self.document = load_document(self.raw)
        except DocumentError as exc:
            self.error = str(exc)


PROVER_TIMEOUT = {
    "proverTimeoutSeconds": {
        "type": "number",
        "default": 10,
        "minimum": 0.1,
        "description": "Seconds the prover may spend on one query; over it the rule is advisory.",
    }
}


def prover_timeout(config: dict[str, Any]) -> float:
    value = config.get("proverTimeoutSeconds")
    return float(value) if isinstance(value, int | float) and value > 0 else 10.0
