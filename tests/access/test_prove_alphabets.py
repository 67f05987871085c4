"""Every request the evaluator allows, drawn from the full alphabets AWS accepts, the prover finds.

Requests carry Unicode context values (long ones too), sets of three or more values, IAM paths
holding `:` and `/`, and accounts of any digits; the policy's conditions are built from the
request (exact, wildcarded or case-changed) so that many draws are allowed. Whenever the
evaluator allows such a request from outside the key's account, the prover must not answer
"not public" nor "no new access".
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from kmsguard.access import evaluate
from kmsguard.access.prove import Key, no_new_access, no_public_access
from kmsguard.access.prove.concretize import assumed_identity_policy
from tests.access.docs import row
from tests.budgets import examples

A = "111122223333"
KEY = Key.in_account(A)
WHEN = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
ROOT = {
    "Effect": "Allow",
    "Principal": {"AWS": f"arn:aws:iam::{A}:root"},
    "Action": "kms:*",
    "Resource": "*",
}

# Code points but surrogates (JSON cannot carry them) up to U+2FFFF, what the solver holds; a
# value with one above it makes the answer unknown, which the property allows, so such values
# are drawn rarely (they would hide the rest).
UNICODE = st.characters(max_codepoint=0x2FFFF, exclude_categories=("Cs",))
values = st.one_of(
    st.text(UNICODE, min_size=1, max_size=12),
    st.text(UNICODE, min_size=300, max_size=600),  # long values
    st.sampled_from(["café", "\u212a", "ΑΣ", "\u0130", "a:b/c", "*", "?", "\U000e0041"]),
)
IAM_NAME = st.text(
    st.sampled_from("abcXYZ019_+=,.@-"), min_size=1, max_size=10
)  # CreateUser/CreateRole
PATH = st.one_of(
    st.just(""),
    st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7F), min_size=1, max_size=20).map(
        lambda p: p + "/"
    ),
    st.just(f":{A}:/"),
)
ACCOUNT = st.text(st.sampled_from("0123456789"), min_size=12, max_size=12).filter(lambda a: a != A)


@st.composite
def glob_of(draw: st.DrawFn, text: str) -> str:
    """`text` with some characters turned into `?` and some runs into `*` (still matches it)."""
    out: list[str] = []
    i = 0
    while i < len(text):
        pick = draw(st.integers(0, 9))
        if pick == 0:
            out.append("?")
            i += 1
        elif pick == 1:
            out.append("*")
            i += draw(st.integers(0, max(0, len(text) - i)))
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[dict[str, Any], str, dict[str, Any]]:
    account = draw(ACCOUNT)
    kind = draw(st.sampled_from(["user", "role", "session", "root"]))
    name, path = draw(IAM_NAME), draw(PATH)
    if kind == "root":
        principal, arn = f"arn:aws:iam::{account}:root", f"arn:aws:iam::{account}:root"
    elif kind == "session":
        principal = f"arn:aws:sts::{account}:assumed-role/{name}/s"
        arn = f"arn:aws:iam::{account}:role/{name}"
    else:
        principal = arn = f"arn:aws:iam::{account}:{kind}/{path}{name}"
    ctx_value = draw(values)
    keys = draw(st.lists(st.text(UNICODE, min_size=1, max_size=8), min_size=3, max_size=5))
    context: dict[str, Any] = {
        "kms:EncryptionContext:team": ctx_value,
        "kms:EncryptionContextKeys": keys,
    }
    conds: dict[str, dict[str, Any]] = {}

    def add(op: str, key: str, value: Any) -> None:
        conds.setdefault(op, {})[key] = value

    match draw(st.integers(0, 2)):
        case 0:
            add("StringEquals", "kms:EncryptionContext:team", ctx_value)
        case 1:
            add("StringLike", "kms:EncryptionContext:team", draw(glob_of(ctx_value)))
        case _:
            add("StringEqualsIgnoreCase", "kms:EncryptionContext:team", ctx_value.upper())
    # One ForAnyValue clause per set value, each under its own operator.
    for op, v in zip(
        [
            "ForAnyValue:StringEquals",
            "ForAnyValue:StringLike",
            "ForAnyValue:StringEqualsIgnoreCase",
        ],
        keys,
        strict=False,
    ):
        add(op, "kms:EncryptionContextKeys", v if "Like" not in op else draw(glob_of(v)))
    if draw(st.booleans()):
        add("StringLike", "aws:PrincipalArn", draw(glob_of(arn)))
    if draw(st.booleans()):
        add("StringLike", "kms:CallerAccount", draw(glob_of(account)))
    allow = {
        "Effect": "Allow",
        "Principal": {"AWS": "*"},
        "Action": "kms:Decrypt",
        "Resource": "*",
        "Condition": conds,
    }
    statements = [ROOT, allow]
    # Deny statements built from other values: they may or may not catch the request.
    for _ in range(draw(st.integers(0, 2))):
        target = draw(st.sampled_from(["kms:EncryptionContext:team", "kms:CallerAccount"]))
        base = ctx_value if target.endswith("team") else account
        pattern = draw(st.one_of(glob_of(base), values, ACCOUNT.map(lambda a: a[:4] + "*")))
        deny_op = draw(st.sampled_from(["StringLike", "StringEqualsIgnoreCase", "StringEquals"]))
        statements.append(
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "kms:Decrypt",
                "Resource": "*",
                "Condition": {deny_op: {target: pattern}},
            }
        )
    policy = {"Version": "2012-10-17", "Statement": statements}
    return policy, principal, context


# A query the solver gives up on is `unknown`, an accepted answer here, so a short solver budget
# keeps what is checked (never a wrong pass) while bounding the draws z3 finds hard.
TIMEOUT_S = 2


@settings(max_examples=examples(0.15), deadline=None, suppress_health_check=list(HealthCheck))
@given(scenarios())
def test_every_allowed_request_is_found(
    scenario: tuple[dict[str, Any], str, dict[str, Any]],
) -> None:
    row("prove-full-alphabets")
    policy, principal, context = scenario
    decision = evaluate(
        principal,
        "kms:Decrypt",
        KEY.arn,
        identity_policies=[assumed_identity_policy("kms:Decrypt", KEY.arn)],
        resource_policy=policy,
        context=context,
        request_time=WHEN,
    )
    event(f"allowed: {decision.allowed}")
    if not decision.allowed:
        return
    public = no_public_access(policy, [A], key=KEY, request_time=WHEN, timeout_s=TIMEOUT_S)
    event(f"public: {public.status} {public.reason[:30]}")
    assert public.status != "pass", (policy, principal, context)
    new = no_new_access(
        {"Version": "2012-10-17", "Statement": [ROOT]}, policy, key=KEY, timeout_s=TIMEOUT_S
    )
    assert new.status != "pass", (policy, principal, context)
