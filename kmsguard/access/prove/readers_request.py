"""A reader candidate from a z3 model, and its read and decrypt requests re-checked by `decide`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

import z3

from kmsguard.access.arn import account_of
from kmsguard.access.dynamodb_context import SUBSCRIBER_ID, TABLE_NAME
from kmsguard.access.dynamodb_reads import ReadPath
from kmsguard.access.evaluate import decide
from kmsguard.access.matching import principal_info
from kmsguard.access.names import fold_principal
from kmsguard.access.policy import Policy
from kmsguard.access.prove.authorizer import Encoder
from kmsguard.access.prove.concretize import model_value, principal_and_context
from kmsguard.access.prove.readers_setup import DECRYPT, Setup
from kmsguard.access.prove.universe import ROOT, SERVICE

T = TypeVar("T")
_EC = "kms:encryptioncontext:"


def assumed_policy(setup: Setup, path: ReadPath, resource: str) -> dict[str, Any]:
    """The identity policy a witness assumes the principal's own account gives it: the read,
    the restore's target actions and the decrypt, nothing else."""
    statements: list[dict[str, Any]] = [
        {"Effect": "Allow", "Action": list(path.actions), "Resource": resource}
    ]
    if path.target_actions:
        statements.append(
            {
                "Effect": "Allow",
                "Action": list(path.target_actions),
                "Resource": setup.restore_target,
            }
        )
    if path.decrypts and setup.key_policy is not None:
        statements.append({"Effect": "Allow", "Action": DECRYPT, "Resource": setup.key_arn})
    return {"Version": "2012-10-17", "Statement": statements}


def pin_decrypt_keys(enc: Encoder, setup: Setup) -> list[z3.BoolRef]:
    """The KMS condition keys of DynamoDB's decrypt are DynamoDB's, not the caller's: its
    endpoint, the table's name and the caller's account as encryption context."""
    if setup.key_policy is None:
        return []
    r = enc.req
    out: list[z3.BoolRef] = []
    for key, slot in r.slots.items():
        v0 = slot.values[0]
        if key == "kms:viaservice":
            out += [slot.count == 1, v0 == enc.s(_endpoint(setup))]
        elif key == _EC + TABLE_NAME.lower():
            out += [slot.count == 1, v0 == enc.s(setup.table_name)]
        elif key == _EC + SUBSCRIBER_ID.lower():
            out += [
                z3.Implies(r.kind == SERVICE, slot.count == 0),
                z3.Implies(r.kind != SERVICE, z3.And(slot.count == 1, v0 == r.acct)),
            ]
        elif key.startswith(_EC):
            out.append(slot.count == 0)
        elif key == "kms:encryptioncontextkeys":
            names = [enc.s(TABLE_NAME), enc.s(SUBSCRIBER_ID)]
            out.append(slot.count >= min(slot.size, 2))
            out += [
                z3.Implies(slot.count > i, z3.Or(*(v == n for n in names)))
                for i, v in enumerate(slot.values)
            ]
            if slot.size >= 2:
                out.append(slot.values[0] != slot.values[1])
    return out


def _endpoint(setup: Setup) -> str:
    return setup.decrypt_context("")["kms:ViaService"]


def request_of(enc: Encoder, model: z3.ModelRef, setup: Setup) -> tuple[str, dict[str, Any], bool]:
    """(principal, request context, identity assumed) as the model has them."""
    kind, principal, context = principal_and_context(enc, model)
    assumed = bool(model_value(model, enc.req.identity_allows)) and kind not in (ROOT, SERVICE)
    return _spelled(principal, setup), context, assumed


def _spelled(principal: str, setup: Setup) -> str:
    """A known principal as the inputs spell it (the model folds IAM names to lower case)."""
    folded = fold_principal(principal)
    for arn in (*setup.declared, *setup.identities, *setup.boundaries):
        if fold_principal(arn) == folded:
            return arn
    return principal


def lookup(table: Mapping[str, T], principal: str) -> T | None:
    """A principal's entry: its own ARN (names folded), or for a session its role's."""
    if principal in table:
        return table[principal]
    folded = fold_principal(principal)
    info = principal_info(principal)
    for arn, value in table.items():
        if fold_principal(arn) == folded:
            return value
        if info.kind == "assumed-role" and info.role_key is not None:
            other = principal_info(arn)
            if other.kind == "role" and other.role_key is not None:
                same_acct = other.role_key[0] == info.role_key[0]
                if same_acct and other.role_key[1].lower() == info.role_key[1].lower():
                    return value
    return None


def recheck(
    setup: Setup,
    path: ReadPath,
    resource: str,
    pol: Policy | None,
    principal: str,
    context: Mapping[str, Any],
    assumed: bool,
) -> tuple[dict[str, Any], dict[str, Any] | None, str] | None:
    """(read scenario, decrypt scenario, why) when `decide` allows every request of the path
    for the principal with the context; None when it refuses one."""
    acct = account_of(principal) or ""
    kind = principal_info(principal).kind
    read_ctx = {k: v for k, v in context.items() if not k.lower().startswith("kms:")}
    ids: Sequence[Any] | None = lookup(setup.identities, principal)
    if ids is None:
        open_account = acct not in setup.closed_accounts
        ids = [assumed_policy(setup, path, resource)] if assumed and open_account else []
    base: dict[str, Any] = {"principal": principal, "identity_policies": list(ids)}
    if kind in ("user", "role", "assumed-role"):
        boundary = lookup(setup.boundaries, principal)
        if boundary is not None:
            base["permissions_boundary"] = boundary
    if setup.scps and kind != "service" and acct in setup.scp_accounts:
        base["scps"] = list(setup.scps)
    if setup.rcps:
        base["rcps"] = list(setup.rcps)
    read: dict[str, Any] = {}
    why = ""
    for action in path.actions:
        read = {
            **base,
            "action": action,
            "resource": resource,
            "resource_policy": pol,
            "context": read_ctx,
        }
        d = decide(read)
        if not d.allowed:
            return None
        why = why or d.detail or d.reason
    for action in path.target_actions:
        target = {**base, "action": action, "resource": setup.restore_target, "context": read_ctx}
        if not decide(target).allowed:
            return None
    if not path.decrypts or setup.key_policy is None:
        return read, None, why
    kms_ctx = {k: v for k, v in context.items() if k.lower().startswith("kms:")}
    decrypt = {
        **base,
        "action": DECRYPT,
        "resource": setup.key_arn,
        "resource_policy": setup.key_policy,
        "context": {**read_ctx, **kms_ctx, **setup.decrypt_context(acct)},
    }
    if setup.grants:
        decrypt["grants"] = list(setup.grants)
    if not decide(decrypt).allowed:
        return None
    return read, decrypt, why
