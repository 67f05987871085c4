"""Configuration checks as the admin: table SSE, key state, rotation, alias, key policy drift."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from kmsguard.access.arn import account_of
from kmsguard.aws_errors import error_code
from kmsguard.keypolicy import statements_by_sid
from verification.grants import check_grants
from verification.outputs import StackFacts
from verification.verdicts import MISMATCH, NOT_VERIFIABLE, PASS, ConfigRow


def _row(check: str, expected: Any, observed: Any, detail: str = "") -> ConfigRow:
    exp, obs = _show(expected), _show(observed)
    return ConfigRow(check, exp, obs, PASS if exp == obs else MISMATCH, detail)


def _show(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _unverifiable(checks: list[str], exc: Exception, call: str) -> list[ConfigRow]:
    detail = f"{call} failed ({error_code(exc)})"
    return [ConfigRow(c, "", "", NOT_VERIFIABLE, detail) for c in checks]


def check_table(dynamodb: Any, facts: StackFacts) -> list[ConfigRow]:
    names = ["table.sse.type", "table.sse.key", "table.sse.status"]
    try:
        table = dynamodb.describe_table(TableName=facts.table_name)["Table"]
    except (ClientError, BotoCoreError) as exc:
        if error_code(exc) == "ResourceNotFoundException":
            return [missing_table(dynamodb, facts)]
        return _unverifiable(names, exc, "DescribeTable")
    sse = table.get("SSEDescription") or {}
    # Without an SSEDescription the table uses an AWS owned key: no customer key protects it.
    sse_type = sse.get("SSEType") or "AWS_OWNED_KEY"
    return [
        _row("table.arn", facts.table_arn, table.get("TableArn")),
        _row("table.sse.type", "KMS", sse_type),
        _row("table.sse.key", facts.key_arn, sse.get("KMSMasterKeyArn")),
        _row("table.sse.status", "ENABLED", sse.get("Status")),
    ]


def missing_table(dynamodb: Any, facts: StackFacts) -> ConfigRow:
    """A deleted or never-created table is drift from what was deployed, not a gap in proof."""
    account = facts.account_id or account_of(facts.table_arn) or ""
    region = dynamodb.meta.region_name
    return ConfigRow(
        "table.arn",
        facts.table_arn,
        "(no such table)",
        MISMATCH,
        f"the table {facts.table_name} named in the stack outputs does not exist in "
        f"account {account}, region {region}",
    )


def check_key(kms: Any, facts: StackFacts) -> list[ConfigRow]:
    rows: list[ConfigRow] = []
    try:
        meta = kms.describe_key(KeyId=facts.key_arn)["KeyMetadata"]
    except (ClientError, BotoCoreError) as exc:
        if error_code(exc) == "NotFoundException":
            return [
                ConfigRow(
                    "key.arn",
                    facts.key_arn,
                    "(no such key)",
                    MISMATCH,
                    f"the key named in the stack outputs does not exist in account "
                    f"{account_of(facts.key_arn)}, region {kms.meta.region_name}",
                )
            ]
        return _unverifiable(["key.state"], exc, "DescribeKey")
    rows.append(_row("key.arn", facts.key_arn, meta.get("Arn")))
    rows.append(_row("key.state", "Enabled", meta.get("KeyState")))
    rows.append(
        _row(
            "key.spec",
            "SYMMETRIC_DEFAULT",
            meta.get("KeySpec") or meta.get("CustomerMasterKeySpec"),
        )
    )
    rows.append(_row("key.manager", "CUSTOMER", meta.get("KeyManager")))
    if meta.get("DeletionDate") is not None or meta.get("KeyState") == "PendingDeletion":
        rows.append(ConfigRow("key.deletion", "not scheduled", "pending deletion", MISMATCH))
    else:
        rows.append(ConfigRow("key.deletion", "not scheduled", "not scheduled", PASS))
    rows.extend(check_rotation(kms, facts))
    return rows


def check_rotation(kms: Any, facts: StackFacts) -> list[ConfigRow]:
    try:
        status = kms.get_key_rotation_status(KeyId=facts.key_arn)
    except (ClientError, BotoCoreError) as exc:
        return _unverifiable(["key.rotation"], exc, "GetKeyRotationStatus")
    enabled = bool(status.get("KeyRotationEnabled"))
    rows = [_row("key.rotation", True, enabled)]
    if facts.key_rotation_period_days is not None and enabled:
        period = status.get("RotationPeriodInDays")
        if period is None:
            rows.append(
                ConfigRow(
                    "key.rotation.period",
                    f"{facts.key_rotation_period_days} days",
                    "(not reported)",
                    NOT_VERIFIABLE,
                    "GetKeyRotationStatus returned no RotationPeriodInDays",
                )
            )
        else:
            rows.append(
                _row(
                    "key.rotation.period",
                    f"{facts.key_rotation_period_days} days",
                    f"{period} days",
                )
            )
    return rows


def check_alias(kms: Any, facts: StackFacts) -> list[ConfigRow]:
    alias = facts.key_alias if facts.key_alias.startswith("alias/") else f"alias/{facts.key_alias}"
    try:
        pages = kms.get_paginator("list_aliases").paginate()
        target = next(
            (
                a.get("TargetKeyId")
                for page in pages
                for a in page.get("Aliases", [])
                if a.get("AliasName") == alias
            ),
            None,
        )
    except (ClientError, BotoCoreError) as exc:
        return _unverifiable(["key.alias"], exc, "ListAliases")
    key_id = facts.key_arn.rsplit("/", 1)[-1]
    return [_row("key.alias", f"{alias} -> {key_id}", f"{alias} -> {target or '(missing)'}")]


def _normalise(value: Any) -> Any:
    """Canonical form: a one-element list equals its element, lists are order-free."""
    if isinstance(value, dict):
        return {k: _normalise(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        items = sorted((_normalise(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True))
        return items[0] if len(items) == 1 else items
    if isinstance(value, bool):
        return str(value).lower()
    return value


def _statement_text(st: dict[str, Any]) -> str:
    return json.dumps(_normalise({k: v for k, v in st.items() if k != "Sid"}), sort_keys=True)


def _summary(st: dict[str, Any]) -> str:
    principal = st.get("Principal", {})
    principal = principal.get("AWS", principal) if isinstance(principal, dict) else principal
    actions = st.get("Action", st.get("NotAction"))
    return (
        f"{st.get('Effect')} {json.dumps(_normalise(principal))} {json.dumps(_normalise(actions))}"
    )


def _changed_fields(declared: dict[str, Any], deployed: dict[str, Any]) -> str:
    keys = sorted(set(declared) | set(deployed))
    changed = [k for k in keys if _normalise(declared.get(k)) != _normalise(deployed.get(k))]
    parts = []
    for k in changed:
        parts.append(
            f"{k}: declared {json.dumps(_normalise(declared.get(k)))}, "
            f"deployed {json.dumps(_normalise(deployed.get(k)))}"
        )
    return "; ".join(parts)


def diff_key_policy(declared: dict[str, Any], deployed: dict[str, Any]) -> list[ConfigRow]:
    """One row per statement (by Sid): present and equal, changed, missing or unexpected."""
    want, have = statements_by_sid(declared), statements_by_sid(deployed)
    rows: list[ConfigRow] = []
    for sid in [*want, *[s for s in have if s not in want]]:
        check = f"key.policy[{sid}]"
        if sid not in have:
            rows.append(ConfigRow(check, _summary(want[sid]), "(missing)", MISMATCH))
        elif sid not in want:
            rows.append(
                ConfigRow(check, "(not declared)", _summary(have[sid]), MISMATCH, "unexpected")
            )
        elif _statement_text(want[sid]) != _statement_text(have[sid]):
            rows.append(
                ConfigRow(
                    check,
                    _summary(want[sid]),
                    _summary(have[sid]),
                    MISMATCH,
                    _changed_fields(want[sid], have[sid]),
                )
            )
        else:
            rows.append(ConfigRow(check, "as declared", "as declared", PASS))
    return rows


def fetch_key_policy(kms: Any, key_arn: str) -> dict[str, Any]:
    text = kms.get_key_policy(KeyId=key_arn, PolicyName="default")["Policy"]
    policy = json.loads(text)
    if not isinstance(policy, dict):
        raise ValueError("the key policy is not a JSON object")
    return policy


def check_key_policy(kms: Any, facts: StackFacts) -> list[ConfigRow]:
    if facts.key_policy is None:
        return [
            ConfigRow(
                "key.policy",
                "(not exported)",
                "",
                NOT_VERIFIABLE,
                "the stack does not export keyPolicy, so drift cannot be checked",
            )
        ]
    try:
        deployed = fetch_key_policy(kms, facts.key_arn)
    except (ClientError, BotoCoreError) as exc:
        return _unverifiable(["key.policy"], exc, "GetKeyPolicy")
    except ValueError as exc:
        return [ConfigRow("key.policy", "", "", NOT_VERIFIABLE, str(exc))]
    return [
        *diff_key_policy(facts.key_policy, deployed),
        semantic_drift(facts.key_policy, deployed, facts.key_arn),
    ]


def semantic_drift(
    declared: dict[str, Any], deployed: dict[str, Any], key_arn: str, timeout_s: float = 10.0
) -> ConfigRow:
    """Meaning, not text: does the deployed key policy allow any request the declared one denies?

    Proved over every principal, action and condition value; "equivalent" when a reordered or
    reformatted policy means the same, else a concrete request as the witness.
    """
    from kmsguard.access import PolicyDocumentError
    from kmsguard.access.prove import Key, equivalent, no_new_access

    check = "key.policy.meaning"
    expected = "no access beyond the declared policy"
    try:
        key = Key(key_arn)
        same = equivalent(declared, deployed, key=key, timeout_s=timeout_s)
        if same.status == "pass":
            return ConfigRow(check, expected, "equivalent", PASS)
        new = no_new_access(declared, deployed, key=key, timeout_s=timeout_s)
    except (PolicyDocumentError, ValueError) as exc:
        return ConfigRow(check, expected, "", NOT_VERIFIABLE, f"cannot compare: {exc}")
    for verdict in (same, new):
        if verdict.status == "unknown":
            return ConfigRow(check, expected, "", NOT_VERIFIABLE, f"prover: {verdict.reason}")
    if new.witness is not None:
        w = new.witness
        return ConfigRow(
            check, expected, "grants more", MISMATCH, f"deployed allows: {w.describe()}"
        )
    lost = same.witness
    detail = f"no longer allowed: {lost.describe()}" if lost is not None else ""
    return ConfigRow(check, expected, "grants less", PASS, detail)


CHECKS: tuple[Callable[[Any, Any, StackFacts], list[ConfigRow]], ...] = (
    lambda ddb, kms, f: check_table(ddb, f),
    lambda ddb, kms, f: check_key(kms, f),
    lambda ddb, kms, f: check_alias(kms, f),
    lambda ddb, kms, f: check_key_policy(kms, f),
    lambda ddb, kms, f: check_grants(kms, f),
)


def run_config_checks(dynamodb: Any, kms: Any, facts: StackFacts) -> list[ConfigRow]:
    rows: list[ConfigRow] = []
    for check in CHECKS:
        rows.extend(check(dynamodb, kms, facts))
    return rows
