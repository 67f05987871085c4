"""`readers` agrees with the evaluator on random table, stream and key policies."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kmsguard.access import decide
from kmsguard.access.dynamodb_reads import BACKUP, INDEX, READ_PATHS, STREAM, TABLE
from kmsguard.access.prove import readers
from tests.budgets import examples

A = "111122223333"
B = "444455556666"
ORG = "o-a1b2c3d4e5"
REGION = "us-east-1"
TABLE_ARN = f"arn:aws:dynamodb:{REGION}:{A}:table/Orders"
STREAM_ARN = f"{TABLE_ARN}/stream/2026-01-01T00:00:00.000"
INDEX_ARN = f"{TABLE_ARN}/index/byDate"
KEY = f"arn:aws:kms:{REGION}:{A}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ROOT_A = f"arn:aws:iam::{A}:root"
ALICE = f"arn:aws:iam::{A}:user/alice"
BOB = f"arn:aws:iam::{B}:user/bob"
VIA = f"dynamodb.{REGION}.amazonaws.com"
ALICE_IAM = {
    ALICE: [
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"}],
        }
    ]
}

PRINCIPALS: list[Any] = ["*", {"AWS": B}, {"AWS": ROOT_A}, {"AWS": ALICE}, {"AWS": BOB}]
TABLE_ACTIONS = [
    "dynamodb:GetItem",
    "dynamodb:*",
    "dynamodb:Query",
    "dynamodb:PartiQLSelect",
    "dynamodb:GetRecords",
    "dynamodb:Scan",
]
RESOURCES = [TABLE_ARN, f"{TABLE_ARN}/*", "*", f"{TABLE_ARN}/index/*", STREAM_ARN]
TABLE_CONDITIONS: list[dict[str, Any]] = [
    {},
    {"StringEquals": {"aws:PrincipalOrgID": ORG}},
    {"StringEquals": {"aws:PrincipalAccount": A}},
    {"StringNotEquals": {"aws:PrincipalAccount": B}},
    {"StringLike": {"aws:PrincipalArn": f"arn:aws:iam::{B}:user/*"}},
]
KEY_ACTIONS = ["kms:Decrypt", "kms:*", "kms:Encrypt"]
KEY_CONDITIONS: list[dict[str, Any]] = [
    {},
    {"StringEquals": {"kms:ViaService": VIA}},
    {"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}},
    {"StringEquals": {"kms:CallerAccount": B}},
    {"StringEquals": {"aws:PrincipalOrgID": ORG}},
    {"StringEquals": {"kms:EncryptionContext:aws:dynamodb:tableName": "Orders"}},
    {"StringEquals": {"kms:EncryptionContext:aws:dynamodb:tableName": "Other"}},
]


def _statement(
    draw: st.DrawFn, actions: list[str], conditions: list[dict[str, Any]], resources: list[str]
) -> dict[str, Any]:
    s: dict[str, Any] = {
        "Effect": draw(st.sampled_from(["Allow", "Allow", "Deny"])),
        "Principal": draw(st.sampled_from(PRINCIPALS)),
        "Action": draw(st.sampled_from(actions)),
        "Resource": draw(st.sampled_from(resources)),
    }
    cond = draw(st.sampled_from(conditions))
    if cond:
        s["Condition"] = cond
    return s


@st.composite
def table_policies(draw: st.DrawFn) -> dict[str, Any]:
    n = draw(st.integers(1, 3))
    sts = [_statement(draw, TABLE_ACTIONS, TABLE_CONDITIONS, RESOURCES) for _ in range(n)]
    return {"Version": "2012-10-17", "Statement": sts}


@st.composite
def key_policies(draw: st.DrawFn) -> dict[str, Any]:
    n = draw(st.integers(1, 3))
    sts = [_statement(draw, KEY_ACTIONS, KEY_CONDITIONS, ["*"]) for _ in range(n)]
    return {"Version": "2012-10-17", "Statement": sts}


# Principals and contexts the evaluator is asked about, outside the declared ones (alice, A's root).
SAMPLED = [
    f"arn:aws:iam::{B}:root",
    BOB,
    f"arn:aws:iam::{B}:role/app",
    f"arn:aws:sts::{B}:assumed-role/app/s",
    f"arn:aws:iam::{A}:user/carol",
    f"arn:aws:iam::{A}:role/app",
]
CONTEXTS: list[dict[str, Any]] = [{}, {"aws:PrincipalOrgID": ORG}]
LIMIT = 25  # more than the kinds of principal times the accounts the policies name


def _resources(kind: str, stream: bool) -> list[tuple[str, Any]]:
    return {
        TABLE: [(TABLE_ARN, "table")],
        INDEX: [(INDEX_ARN, "table")],
        STREAM: [(STREAM_ARN, "stream")] if stream else [],
        BACKUP: [(f"{TABLE_ARN}/backup/01234567890123-abcdefgh", None)],
    }[kind]


def evaluator_reads(
    principal: str,
    ctx: dict[str, Any],
    policies: dict[str, Any],
    key_policy: dict[str, Any] | None,
    closed: bool,
    identities: dict[str, list[dict[str, Any]]] = ALICE_IAM,
    boundaries: dict[str, dict[str, Any]] | None = None,
    scps: list[dict[str, Any]] | None = None,
) -> bool:
    """Whether the evaluator lets `principal` read by some path: every action of the path on
    its resource, the restore's on a table it creates, and kms:Decrypt through DynamoDB."""
    acct = principal.split(":")[4]
    open_account = not closed or acct != A
    for path in READ_PATHS:
        if not path.returns_items:
            continue
        for resource, holder in _resources(path.resource, "stream" in policies):
            target = f"{TABLE_ARN}-restored"
            iam = {
                "Effect": "Allow",
                "Action": [*path.actions, *path.target_actions, "kms:Decrypt"],
                "Resource": "*",
            }
            ids = identities.get(principal)
            if ids is None:
                ids = [{"Version": "2012-10-17", "Statement": [iam]}] if open_account else []
            base: dict[str, Any] = {
                "principal": principal,
                "identity_policies": ids,
                "context": ctx,
            }
            if boundaries and principal in boundaries:
                base["permissions_boundary"] = boundaries[principal]
            if scps and acct == A:
                base["scps"] = scps
            requests = [
                {**base, "action": a, "resource": resource, "resource_policy": policies.get(holder)}
                for a in path.actions
            ]
            requests += [{**base, "action": a, "resource": target} for a in path.target_actions]
            if key_policy is not None and path.decrypts:
                via = {
                    "kms:ViaService": VIA,
                    "kms:EncryptionContext:aws:dynamodb:tableName": "Orders",
                    "kms:EncryptionContext:aws:dynamodb:subscriberId": acct,
                }
                requests.append(
                    {
                        **base,
                        "action": "kms:Decrypt",
                        "resource": KEY,
                        "resource_policy": key_policy,
                        "context": {**ctx, **via},
                    }
                )
            if all(decide(r).allowed for r in requests):
                return True
    return False


@settings(max_examples=examples(0.6), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(st.none(), table_policies(), table_policies()),
    st.one_of(st.none(), table_policies()),
    st.one_of(st.none(), key_policies()),
    st.booleans(),
    st.booleans(),
)
def test_readers_agrees_with_the_evaluator(
    table: dict[str, Any] | None,
    stream: dict[str, Any] | None,
    key: dict[str, Any] | None,
    closed: bool,
    trust_org: bool,
) -> None:
    orgs = [ORG] if trust_org else []
    v = readers(
        TABLE_ARN,
        key_policy=key,
        key_arn=KEY,
        table_policy=table,
        stream_arn=STREAM_ARN if stream is not None else None,
        stream_policy=stream,
        indexes=["byDate"],
        identities=ALICE_IAM,
        closed_accounts=[A] if closed else [],
        declared=[ALICE, ROOT_A],
        trusted_orgs=orgs,
        limit=LIMIT,
    )
    # No witness the evaluator denies, and none among the declared.
    for w in v.witnesses:
        data = w.to_json()
        assert decide(data["read"]).allowed
        assert data["decrypt"] is None if key is None else decide(data["decrypt"]).allowed
        assert w.principal not in (ALICE, ROOT_A)
        assert not (trust_org and data["read"]["context"].get("aws:PrincipalOrgID") == ORG)
    if v.status == "unknown" or not v.complete:
        return
    # No extra reader the prover misses: the witnesses cover each kind of principal and
    # account that reads (the prover lists one per kind and account).
    # An account no input names is one of "every other account", which one witness stands for.
    named = {A} | ({B} if B in json.dumps([table, stream, key]) else set())
    found = {_kind(w.principal, named) for w in v.witnesses}
    policies = {
        **({"table": table} if table is not None else {}),
        **({"stream": stream} if stream is not None else {}),
    }
    for principal in SAMPLED:
        for ctx in CONTEXTS:
            if trust_org and ctx.get("aws:PrincipalOrgID") == ORG:
                continue
            if evaluator_reads(principal, ctx, policies, key, closed):
                assert _kind(principal, named) in found, (principal, ctx, table, stream, key)


def _kind(principal: str, named: set[str]) -> tuple[str, str]:
    """(kind, account) of a principal ARN, as the witnesses are enumerated."""
    if not principal.startswith("arn:"):
        return "service", principal
    account, resource = principal.split(":")[4], principal.split(":", 5)[5]
    return resource.split("/")[0], account if account in named else "other"


CAROL = f"arn:aws:iam::{A}:user/carol"
CAROL_ACTIONS = [*TABLE_ACTIONS, "kms:Decrypt", "kms:*", "dynamodb:RestoreTableToPointInTime"]
CAROL_RESOURCES = [*RESOURCES, KEY, f"{TABLE_ARN}-*"]


@st.composite
def identity_policies(draw: st.DrawFn) -> dict[str, Any]:
    n = draw(st.integers(1, 3))
    sts = []
    for _ in range(n):
        s = _statement(draw, CAROL_ACTIONS, TABLE_CONDITIONS, CAROL_RESOURCES)
        del s["Principal"]
        sts.append(s)
    return {"Version": "2012-10-17", "Statement": sts}


def _with_allow_all(doc: dict[str, Any]) -> dict[str, Any]:
    """A boundary or SCP that allows everything but what its other statements deny."""
    everything = {"Effect": "Allow", "Action": "*", "Resource": "*"}
    return {**doc, "Statement": [*doc["Statement"], everything]}


caps = st.one_of(st.none(), identity_policies(), identity_policies().map(_with_allow_all))


@settings(max_examples=examples(0.6), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.none(), table_policies()), key_policies(), identity_policies(), caps, caps)
def test_readers_agrees_with_the_evaluator_on_identity_boundary_and_scp(
    table: dict[str, Any] | None,
    key: dict[str, Any],
    carol: dict[str, Any],
    boundary: dict[str, Any] | None,
    scp: dict[str, Any] | None,
) -> None:
    ids = {**ALICE_IAM, CAROL: [carol]}
    bounds = {CAROL: boundary} if boundary is not None else {}
    scps = [scp] if scp is not None else []
    v = readers(
        TABLE_ARN,
        key_policy=key,
        key_arn=KEY,
        table_policy=table,
        indexes=["byDate"],
        identities=ids,
        boundaries=bounds,
        scps=scps,
        closed_accounts=[A],
        declared=[ALICE, ROOT_A],
        limit=LIMIT,
    )
    for w in v.witnesses:
        data = w.to_json()
        assert decide(data["read"]).allowed and decide(data["decrypt"]).allowed
        assert w.principal not in (ALICE, ROOT_A)
    if v.status == "unknown" or not v.complete:
        return
    named = {A} | ({B} if B in json.dumps([table, key]) else set())
    found = {_kind(w.principal, named) for w in v.witnesses}
    policies = {"table": table} if table is not None else {}
    for principal in [CAROL, *SAMPLED]:
        for ctx in CONTEXTS:
            reads = evaluator_reads(principal, ctx, policies, key, True, ids, bounds, scps)
            if reads:
                assert _kind(principal, named) in found, (principal, ctx, table, key, carol)
