"""The public API: Decision, evaluate with parsed policies, who_can, context defaults."""

from __future__ import annotations

import dataclasses

import pytest

from kmsguard.access import (
    Decision,
    StatementRef,
    build_context,
    decide,
    evaluate,
    parse_policy,
    who_can,
)
from kmsguard.contract import CALLER_ACCOUNT, VIA_SERVICE, Sid
from tests.access.docs import (
    ACCT,
    ALICE,
    BOB,
    DDB,
    KEY,
    ROOT,
    SESSION,
    VIA_DDB,
    aws,
    doc,
    scenario,
    stmt,
)

KEY_POLICY = doc(
    stmt(sid=Sid.ROOT, principal=aws(ROOT)),
    stmt(
        sid=Sid.USERS,
        principal=aws(ALICE),
        action=["kms:Decrypt", "kms:Encrypt"],
        condition={"StringEquals": {VIA_SERVICE: DDB, CALLER_ACCOUNT: ACCT}},
    ),
)


def test_to_json_shape() -> None:
    d = decide(scenario(resource_policy=KEY_POLICY, context=VIA_DDB))
    assert d.to_json() == {
        "effect": "allow",
        "reason": f"allowed by the key policy statement '{Sid.USERS}', which names the principal",
        "statements": [{"policy": "resource", "sid": Sid.USERS, "index": 1, "effect": "Allow"}],
    }


def test_decision_is_frozen() -> None:
    d = decide(scenario(resource_policy=KEY_POLICY))
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.effect = "allow"  # type: ignore[misc]


def test_message_is_awss_sentence() -> None:
    d = decide(scenario(resource_policy=doc(stmt(principal=aws(BOB)))))
    assert d.message() == (
        f"User: {ALICE} is not authorized to perform: kms:Decrypt on resource: {KEY} "
        "because no resource-based policy allows the kms:Decrypt action"
    )
    deny = decide(
        scenario(resource_policy=doc(stmt("Deny", principal="*"), stmt(principal=aws(ALICE))))
    )
    assert deny.message().endswith(
        f"on resource: {KEY} with an explicit deny in a resource-based policy"
    )
    assert deny.message(principal=BOB).startswith(f"User: {BOB} is not authorized")


def test_parsed_and_raw_documents_decide_alike() -> None:
    ident = doc(stmt(action="kms:Decrypt"))
    raw = evaluate(ALICE, "kms:Decrypt", KEY, identity_policies=[ident], resource_policy=KEY_POLICY)
    parsed = evaluate(
        ALICE,
        "kms:Decrypt",
        KEY,
        identity_policies=[parse_policy(ident, kind="identity")],
        resource_policy=parse_policy(KEY_POLICY, kind="resource"),
    )
    assert raw == parsed
    assert raw.allowed


def test_parsed_policy_is_reusable_across_requests() -> None:
    kp = parse_policy(KEY_POLICY, kind="resource")
    first = evaluate(
        ALICE, "kms:Decrypt", KEY, identity_policies=[], resource_policy=kp, context=VIA_DDB
    )
    other = evaluate(
        ALICE, "kms:Sign", KEY, identity_policies=[], resource_policy=kp, context=VIA_DDB
    )
    again = evaluate(
        ALICE, "kms:Decrypt", KEY, identity_policies=[], resource_policy=kp, context=VIA_DDB
    )
    assert first.allowed and again.allowed and not other.allowed
    with pytest.raises(dataclasses.FrozenInstanceError):
        kp.statements = ()  # type: ignore[misc]


def test_json_text_documents_are_accepted() -> None:
    import json

    d = evaluate(
        ALICE,
        "kms:Decrypt",
        KEY,
        identity_policies=[json.dumps(doc(stmt(action="kms:Decrypt")))],
        resource_policy=json.dumps(KEY_POLICY),
    )
    assert d.allowed


def test_who_can_lists_paths_per_principal() -> None:
    carol = f"arn:aws:iam::{ACCT}:user/carol"
    result = who_can(
        "kms:Decrypt",
        KEY,
        KEY_POLICY,
        {
            ALICE: [],
            BOB: [doc(stmt(action="kms:*")), doc(stmt(action="kms:Decrypt", sid="Reader"))],
            carol: [doc(stmt(action="dynamodb:*"))],
        },
        context=VIA_DDB,
    )
    assert set(result) == {ALICE, BOB, carol}
    assert result[ALICE].allowed
    assert [(s.policy, s.sid) for s in result[ALICE].statements] == [("resource", Sid.USERS)]
    assert result[BOB].allowed
    assert result[BOB].statements == (
        StatementRef("resource", Sid.ROOT, 0, "Allow"),
        StatementRef("identity[0]", None, 0, "Allow"),
        StatementRef("identity[1]", "Reader", 0, "Allow"),
    )
    assert result[BOB].reason == (
        f"allowed by the key policy's account-root delegation (statement '{Sid.ROOT}') "
        "together with identity policy identity[0] statement 0"
    )
    assert result[carol].effect == "implicit_deny"
    assert result[carol].reason == "no identity-based policy allows the kms:Decrypt action"
    # Each statement says its layer, which document of it, its index and Sid as data.
    assert [(s.layer, s.position, s.index, s.sid) for s in result[BOB].statements] == [
        ("resource", None, 0, Sid.ROOT),
        ("identity", 0, 0, None),
        ("identity", 1, 0, "Reader"),
    ]


@pytest.mark.parametrize(
    ("policy", "layer", "position"),
    [
        ("grants[12]", "grants", 12),
        ("session_policies[0]", "session_policies", 0),
        ("permissions_boundary", "permissions_boundary", None),
        ("trust", "trust", None),
    ],
)
def test_a_statement_ref_names_its_layer_and_position(
    policy: str, layer: str, position: int | None
) -> None:
    ref = StatementRef(policy, None, 2, "Allow")
    assert (ref.layer, ref.position) == (layer, position)


def test_default_context_is_derived_and_caller_wins() -> None:
    ctx = build_context(ALICE, KEY)
    assert ctx["aws:principalarn"] == ALICE
    assert ctx["aws:principalaccount"] == ACCT
    assert ctx["kms:calleraccount"] == ACCT
    assert ctx["aws:username"] == "alice"
    assert ctx["aws:resourceaccount"] == ACCT
    assert build_context(ALICE, KEY, {"aws:userid": "AIDA1"})["aws:userid"] == "AIDA1"
    assert build_context(ALICE, KEY, {"kms:CallerAccount": "1"})["kms:calleraccount"] == "1"
    session = build_context(SESSION, KEY)
    assert session["aws:principalarn"] == f"arn:aws:iam::{ACCT}:role/KeyUser"
    assert "aws:username" not in session


def test_detail_explains_an_ineffective_identity_allow() -> None:
    d = decide(
        scenario(
            identity=[doc(stmt(action="kms:Decrypt"))],
            resource_policy=doc(stmt(principal=aws(BOB))),
        )
    )
    assert d.reason == "no resource-based policy allows the kms:Decrypt action"
    assert "identity[0] statement 0 allows kms:Decrypt" in d.detail
    assert d.statements == ()


def test_decision_equality_ignores_request_fields() -> None:
    assert Decision("allow", "x", ()) == Decision("allow", "x", (), "", principal="p")


def test_parse_cache_returns_the_same_policy_for_the_same_text() -> None:
    d = doc(stmt(action="kms:Decrypt"))
    assert parse_policy(d, kind="identity") is parse_policy(dict(d), kind="identity")
    assert parse_policy(d, kind="identity") is not parse_policy(
        doc(stmt(action="kms:Encrypt")), kind="identity"
    )


def test_parse_cache_does_not_confuse_coerced_keys() -> None:
    from kmsguard.access import PolicyDocumentError

    good = doc(stmt(condition={"StringEquals": {"1": "a"}}))
    parse_policy(good, kind="identity")
    bad = doc(stmt(condition={"StringEquals": {1: "a"}}))
    with pytest.raises(PolicyDocumentError):
        parse_policy(bad, kind="identity")


def test_implicit_deny_names_the_allow_whose_condition_was_not_met() -> None:
    from kmsguard.keypolicy import KeyPolicyRoles, build_key_policy

    user = "arn:aws:iam::111122223333:user/kms-test-user"
    key = "arn:aws:kms:eu-west-1:111122223333:key/k"
    policy = build_key_policy(
        KeyPolicyRoles(account_id="111122223333", region="eu-west-1", users=[user])
    )
    direct = evaluate(user, "kms:Decrypt", key, identity_policies=[], resource_policy=policy)
    assert direct.effect == "implicit_deny"
    assert "statement 'AllowKeyUseViaDynamoDB' would allow kms:Decrypt" in direct.detail
    assert "Condition is not met" in direct.detail
    via = evaluate(
        user,
        "kms:Decrypt",
        key,
        identity_policies=[],
        resource_policy=policy,
        context={"kms:ViaService": "dynamodb.eu-west-1.amazonaws.com"},
    )
    assert via.allowed and "not met" not in via.detail


@pytest.mark.parametrize(
    ("principal", "action", "path"),
    [
        ("arn:aws:iam::111122223333:user/a", "nocolon", "action"),
        ("arn:aws:iam::111122223333:user/a", "kms:De*", "action"),
        ("arn:aws:iam::111122223333:user/a", "kms:Decrypt\n", "action"),
        ("x", "kms:Decrypt", "principal"),
        ("arn:aws:iam::1234:user/a", "kms:Decrypt", "principal"),
    ],
)
def test_a_request_that_is_not_one_action_by_one_principal_is_refused(
    principal: str, action: str, path: str
) -> None:
    from kmsguard.access import PolicyDocumentError

    with pytest.raises(PolicyDocumentError) as err:
        evaluate(
            principal,
            action,
            "arn:aws:kms:eu-west-1:111122223333:key/k",
            identity_policies=[],
            resource_policy=None,
        )
    assert err.value.path == path and "allowed:" in str(err.value)


@pytest.mark.parametrize("action", ["kms:Decrypt\n", "kms:Decrypt\r\n", "\nkms:Decrypt"])
def test_an_action_with_a_newline_is_refused_by_name_before_any_policy_is_read(
    action: str,
) -> None:
    from kmsguard.access import PolicyDocumentError

    anyone = doc(stmt(principal="*", action="kms:*"))
    with pytest.raises(PolicyDocumentError) as err:
        evaluate(ALICE, action, KEY, identity_policies=[], resource_policy=anyone)
    assert err.value.path == "action"
    assert str(err.value).startswith(
        f"action: {action!r} is not an action; allowed: service:Action"
    )
