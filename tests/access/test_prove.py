"""The prover: known answers from AWS's documentation, and agreement with the evaluator."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kmsguard.access import evaluate
from kmsguard.access.arn import account_of
from kmsguard.access.prove import (
    CONTEXT_KEYS,
    Key,
    WitnessNotConfirmed,
    access_not_granted,
    concretize,
    equivalent,
    no_new_access,
    no_public_access,
    questions,
)
from kmsguard.access.prove.concretize import assumed_identity_policy
from tests.access.docs import row
from tests.budgets import examples

A = "111122223333"
B = "444455556666"
ORG = "o-a1b2c3d4e5"
KEY = Key.in_account(A)
ROOT = {
    "Sid": "Root",
    "Effect": "Allow",
    "Principal": {"AWS": f"arn:aws:iam::{A}:root"},
    "Action": "kms:*",
    "Resource": "*",
}
ALICE = f"arn:aws:iam::{A}:user/alice"


def doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(principal: Any, actions: Any = "kms:Decrypt", **cond: Any) -> dict[str, Any]:
    st: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": principal,
        "Action": actions,
        "Resource": "*",
    }
    if cond:
        st["Condition"] = cond
    return st


def confirmed(policy: dict[str, Any], w: Any) -> bool:
    ids = [assumed_identity_policy(w.action, w.resource)] if w.identity_assumed else []
    return evaluate(
        w.principal,
        w.action,
        w.resource,
        identity_policies=ids,
        resource_policy=policy,
        context=w.context,
    ).allowed


# -- public or not: the cases AWS's documentation discusses ------------------------------------


def test_everyone_without_condition_is_public_and_the_witness_is_an_outsider() -> None:
    policy = doc(ROOT, allow({"AWS": "*"}))
    v = no_public_access(policy, [A], key=KEY)
    assert v.status == "fail"
    w = v.witness
    assert w is not None and A not in w.principal and confirmed(policy, w)


def test_principal_org_id_of_a_trusted_org_is_not_public() -> None:
    row("prove-org-from-account")
    pinned = allow("*", StringEquals={"aws:PrincipalOrgID": ORG})
    assert no_public_access(doc(ROOT, pinned), [A], [ORG], key=KEY).status == "pass"
    v = no_public_access(doc(ROOT, pinned), [A], ["o-zzzzzzzzzz"], key=KEY)
    assert v.status == "fail" and v.witness is not None
    assert v.witness.context == {"aws:PrincipalOrgID": ORG}


def test_caller_account_condition_pins_to_the_account() -> None:
    pinned = allow({"AWS": "*"}, StringEquals={"kms:CallerAccount": A})
    assert no_public_access(doc(pinned), [A], key=KEY).status == "pass"
    other = allow({"AWS": "*"}, StringEquals={"kms:CallerAccount": B})
    v = no_public_access(doc(other), [A], key=KEY)
    assert v.status == "fail" and v.witness is not None and f"::{B}:" in v.witness.principal


def test_service_principal_without_source_is_public_with_source_account_is_not() -> None:
    row("prove-service-source")
    svc = {"Service": "logs.amazonaws.com"}
    v = no_public_access(doc(allow(svc, "kms:Encrypt")), [A], key=KEY)
    assert v.status == "fail" and v.witness is not None
    assert v.witness.principal == "logs.amazonaws.com"
    pinned = allow(svc, "kms:Encrypt", StringEquals={"aws:SourceAccount": A})
    assert no_public_access(doc(pinned), [A], key=KEY).status == "pass"
    by_arn = allow(svc, "kms:Encrypt", ArnLike={"aws:SourceArn": f"arn:aws:logs:*:{A}:*"})
    assert no_public_access(doc(by_arn), [A], key=KEY).status == "pass"
    foreign = allow(svc, "kms:Encrypt", StringEquals={"aws:SourceAccount": B})
    v = no_public_access(doc(foreign), [A], key=KEY)
    assert v.status == "fail" and v.witness is not None
    assert v.witness.context == {"aws:SourceAccount": B}


def test_principal_arn_wildcard_in_own_account_is_not_public_in_another_is() -> None:
    row("prove-other-account-identity")
    own = allow({"AWS": "*"}, StringLike={"aws:PrincipalArn": f"arn:aws:iam::{A}:role/app-*"})
    assert no_public_access(doc(own), [A], key=KEY).status == "pass"
    other = allow({"AWS": "*"}, StringLike={"aws:PrincipalArn": f"arn:aws:iam::{B}:role/app-*"})
    v = no_public_access(doc(other), [A], key=KEY)
    assert v.status == "fail" and v.witness is not None
    assert v.witness.principal.startswith("arn:aws:") and "app-" in v.witness.principal
    assert v.witness.identity_assumed  # another account's IAM policies are not ours to see
    assert confirmed(doc(other), v.witness)


def test_a_colon_spanning_principal_arn_glob_takes_the_full_string_path() -> None:
    wide = allow({"AWS": "*"}, StringLike={"aws:PrincipalArn": "arn:aws:iam::*"})
    v = no_public_access(doc(wide), [A], key=KEY)
    assert v.status == "fail" and v.witness is not None and confirmed(doc(wide), v.witness)


def test_public_deny_is_a_guardrail_not_an_exposure() -> None:
    deny = {"Effect": "Deny", "Principal": "*", "Action": "kms:*", "Resource": "*"}
    assert no_public_access(doc(ROOT, deny), [A], key=KEY).status == "pass"


def test_not_principal_with_deny_must_list_the_account_too() -> None:
    # AWS: with NotPrincipal in a Deny, list the account of the spared principal as well, or
    # the principal is denied with everyone else.
    only_alice = {
        "Effect": "Deny",
        "NotPrincipal": {"AWS": [ALICE]},
        "Action": "kms:Decrypt",
        "Resource": "*",
    }
    with_account = dict(only_alice, NotPrincipal={"AWS": [ALICE, f"arn:aws:iam::{A}:root"]})
    base = [ROOT, allow({"AWS": ALICE})]
    assert access_not_granted(doc(*base, only_alice), ["kms:Decrypt"], [], key=KEY).status == (
        "pass"
    )
    v = access_not_granted(doc(*base, with_account), ["kms:Decrypt"], [], key=KEY)
    assert v.status == "fail" and v.witness is not None
    assert v.witness.principal in (ALICE, f"arn:aws:iam::{A}:root")
    allowed = [ALICE, f"arn:aws:iam::{A}:root"]
    assert access_not_granted(doc(*base, with_account), ["kms:Decrypt"], allowed).status == ("pass")


def test_not_action_allows_every_other_action() -> None:
    policy = doc({"Effect": "Allow", "Principal": "*", "NotAction": "kms:Decrypt", "Resource": "*"})
    v = no_public_access(policy, [A], key=KEY)
    assert v.status == "fail" and v.witness is not None and v.witness.action != "kms:Decrypt"
    assert access_not_granted(policy, ["kms:Decrypt"], [], key=KEY).status == "pass"


# -- no new access, equivalence ------------------------------------------------------------


def test_reordered_and_reformatted_policy_is_equivalent_and_grants_nothing_new() -> None:
    users = allow({"AWS": [ALICE]}, ["kms:Decrypt", "kms:Encrypt"])
    reformatted = allow({"AWS": ALICE}, ["kms:Encrypt", "kms:Decrypt"])
    a, b = doc(ROOT, users), doc(reformatted, ROOT)
    assert equivalent(a, b, key=KEY).status == "pass"
    assert no_new_access(a, b, key=KEY).status == "pass"


def test_direct_grant_is_new_access_even_where_root_delegation_existed() -> None:
    # Before, alice needed an IAM policy; now the key policy alone lets her decrypt.
    old, new = doc(ROOT), doc(ROOT, allow({"AWS": ALICE}))
    v = no_new_access(old, new, key=KEY)
    assert v.status == "fail" and v.witness is not None
    assert v.witness.principal == ALICE and not v.witness.identity_assumed
    assert v.witness.allowed == (False, True)


def test_another_accounts_root_is_new_access_for_its_principals() -> None:
    old = doc(ROOT)
    new = doc(ROOT, allow({"AWS": f"arn:aws:iam::{B}:root"}, "kms:*"))
    v = no_new_access(old, new, key=KEY, limit=10)
    assert v.status == "fail"
    kinds = {w.principal.split(":")[-1].split("/")[0] for w in v.witnesses}
    assert {"root", "user", "role"} <= kinds
    assert all(f"::{B}:" in w.principal for w in v.witnesses)


def test_narrower_condition_is_no_new_access_wider_is() -> None:
    row("prove-via-service")
    narrow = allow(
        {"AWS": ALICE}, StringEquals={"kms:ViaService": "dynamodb.us-east-1.amazonaws.com"}
    )
    wide = allow({"AWS": ALICE})
    assert no_new_access(doc(wide), doc(narrow), key=KEY).status == "pass"
    v = no_new_access(doc(narrow), doc(wide), key=KEY)
    assert v.status == "fail" and v.witness is not None
    assert "kms:ViaService" not in v.witness.context
    any_service = allow({"AWS": ALICE}, StringLike={"kms:ViaService": "*"})
    v = no_new_access(doc(ROOT), doc(ROOT, any_service), key=KEY)
    assert v.witness is not None
    assert v.witness.context["kms:ViaService"].endswith(".amazonaws.com")


def test_equivalent_finds_the_difference_either_way() -> None:
    v = equivalent(doc(ROOT, allow({"AWS": ALICE})), doc(ROOT), key=KEY)
    assert v.status == "fail" and v.witness is not None and v.witness.allowed == (True, False)


def test_action_restriction_limits_the_question() -> None:
    old, new = doc(ROOT), doc(ROOT, allow({"AWS": ALICE}, "kms:DescribeKey"))
    assert no_new_access(old, new, key=KEY, actions=["kms:Decrypt"]).status == "pass"
    assert no_new_access(old, new, key=KEY, actions=["kms:Describe*"]).status == "fail"


def test_a_query_over_its_time_limit_is_unknown_never_a_pass() -> None:
    row("prove-timeout")
    many = [
        allow({"AWS": "*"}, StringLike={"aws:PrincipalArn": f"arn:aws:iam::*:role/t{i}-*-x"})
        for i in range(40)
    ]
    v = no_new_access(doc(ROOT, *many[:20]), doc(ROOT, *many), key=KEY, timeout_s=0.001)
    assert v.status == "unknown" and "gave up" in v.reason


def test_policy_variables_in_conditions_are_unknown_not_pass() -> None:
    row("prove-unsupported")
    var = allow({"AWS": "*"}, StringEquals={"aws:PrincipalTag/team": "${aws:username}"})
    v = no_public_access(doc(var), [A], key=KEY)
    assert v.status == "unknown" and "policy variable" in v.reason


def test_a_witness_the_evaluator_does_not_confirm_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    class Denied:
        allowed = False

    monkeypatch.setattr(concretize, "evaluate", lambda *a, **k: Denied())
    with pytest.raises(WitnessNotConfirmed):
        no_public_access(doc(allow("*")), [A], key=KEY)


def test_every_context_key_entry_cites_aws_documentation() -> None:
    for key, entry in CONTEXT_KEYS.items():
        assert key == key.lower()
        assert entry.doc.startswith("https://docs.aws.amazon.com/"), key


def test_ip_numeric_and_set_operators_get_confirmed_witnesses() -> None:
    policy = doc(
        allow(
            {"AWS": "*"},
            IpAddress={"aws:SourceIp": "203.0.113.0/24"},
            NumericLessThan={"kms:RecipientAttestation:ImageSha384": "5"},
            **{"ForAllValues:StringEquals": {"kms:GrantOperations": ["Decrypt"]}},
        )
    )
    v = no_public_access(policy, [A], key=KEY)
    assert v.status == "fail" and v.witness is not None and confirmed(policy, v.witness)
    assert v.witness.context["aws:SourceIp"].startswith("203.0.113.")


# -- differential: the prover and the evaluator agree on random policies -----------------------

PRINCIPALS = [
    "*",
    {"AWS": "*"},
    {"AWS": f"arn:aws:iam::{A}:root"},
    {"AWS": f"arn:aws:iam::{B}:root"},
    {"AWS": ALICE},
    {"AWS": f"arn:aws:iam::{A}:role/app"},
    {"Service": "dynamodb.amazonaws.com"},
]
ACTIONS = ["kms:Decrypt", "kms:Encrypt", "kms:*", "kms:Describe*", "kms:ReEncrypt*"]
CONDITIONS: list[dict[str, Any]] = [
    {},
    {"StringEquals": {"kms:CallerAccount": A}},
    {"StringEquals": {"kms:ViaService": "dynamodb.us-east-1.amazonaws.com"}},
    {"StringLike": {"aws:PrincipalArn": f"arn:aws:iam::{A}:role/app*"}},
    {"StringEquals": {"aws:PrincipalOrgID": ORG}},
    {"StringEquals": {"aws:SourceAccount": A}},
    {"StringNotEquals": {"kms:CallerAccount": B}},
    {"Null": {"kms:ViaService": "false"}},
    {"BoolIfExists": {"kms:GrantIsForAWSResource": "true"}},
]
REQUEST_PRINCIPALS = [
    f"arn:aws:iam::{A}:root",
    ALICE,
    f"arn:aws:iam::{A}:role/app",
    f"arn:aws:sts::{A}:assumed-role/app/s",
    f"arn:aws:iam::{B}:user/bob",
    f"arn:aws:iam::{B}:root",
    "dynamodb.amazonaws.com",
]
CONTEXTS: list[dict[str, Any]] = [
    {},
    {"kms:ViaService": "dynamodb.us-east-1.amazonaws.com"},
    {"aws:PrincipalOrgID": ORG},
    {"kms:GrantIsForAWSResource": "true"},
]


@st.composite
def statements(draw: st.DrawFn) -> dict[str, Any]:
    effect = draw(st.sampled_from(["Allow", "Allow", "Deny"]))
    s: dict[str, Any] = {"Effect": effect, "Resource": "*"}
    if effect == "Deny" and draw(st.booleans()):
        s["NotPrincipal"] = draw(st.sampled_from(PRINCIPALS[2:]))
    else:
        s["Principal"] = draw(st.sampled_from(PRINCIPALS))
    s[draw(st.sampled_from(["Action", "Action", "NotAction"]))] = draw(st.sampled_from(ACTIONS))
    cond = draw(st.sampled_from(CONDITIONS))
    if cond:
        s["Condition"] = cond
    return s


policies = st.lists(statements(), min_size=1, max_size=4).map(lambda s: doc(*s))
requests = st.tuples(
    st.sampled_from(REQUEST_PRINCIPALS),
    st.sampled_from(["kms:Decrypt", "kms:Encrypt", "kms:DescribeKey", "kms:ReEncryptFrom"]),
    st.sampled_from(CONTEXTS),
    st.booleans(),
)


def _request_context(principal: str, ctx: dict[str, Any]) -> dict[str, Any]:
    # Keys AWS sets are given only where AWS would set them (the prover's data table).
    out = dict(ctx)
    if principal.endswith(".amazonaws.com"):
        out.pop("aws:PrincipalOrgID", None)
        out["aws:SourceAccount"] = A
    return out


@settings(max_examples=examples(0.4), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policies, policies, st.lists(requests, min_size=1, max_size=6))
def test_new_access_the_evaluator_sees_is_found_and_witnesses_confirm(
    old: dict[str, Any], new: dict[str, Any], reqs: list[Any]
) -> None:
    verdict = no_new_access(old, new, key=KEY)  # raises if a witness is not confirmed
    assert verdict.status in ("pass", "fail"), verdict.reason
    for principal, action, ctx, with_iam in reqs:
        ctx = _request_context(principal, ctx)
        ids = [assumed_identity_policy(action, KEY.arn)] if with_iam else []
        decide = [
            evaluate(
                principal, action, KEY.arn, identity_policies=ids, resource_policy=p, context=ctx
            ).allowed
            for p in (old, new)
        ]
        if decide == [False, True]:
            assert verdict.status == "fail", (json.dumps([old, new]), principal, action, ctx)


@settings(max_examples=examples(0.25), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policies)
def test_public_witnesses_are_confirmed_and_outside(policy: dict[str, Any]) -> None:
    v = no_public_access(policy, [A], [ORG], key=KEY, limit=5)
    for w in v.witnesses:
        assert confirmed(policy, w)
        assert w.context.get("aws:PrincipalOrgID") != ORG
        assert f"::{A}:" not in w.principal or w.principal.endswith(".amazonaws.com")


# -- the CLI -----------------------------------------------------------------------------------


def _run_cli(tmp_path: Any, *args: str) -> tuple[int, str, str]:
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "kmsguard.access", *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PYTHONPATH": str(__import__("pathlib").Path(__file__).resolve().parents[2])},
        timeout=120,
    )
    return proc.returncode, proc.stdout, proc.stderr


def test_cli_diff_exit_codes_table_and_json(tmp_path: Any) -> None:
    (tmp_path / "old.json").write_text(json.dumps(doc(ROOT)))
    (tmp_path / "new.json").write_text(json.dumps(doc(ROOT, allow({"AWS": ALICE}))))
    (tmp_path / "same.json").write_text(json.dumps(doc(ROOT), indent=4))
    code, out, _ = _run_cli(tmp_path, "diff", "old.json", "new.json")
    assert code == 1 and ALICE in out and "kms:Decrypt" in out
    code, out, _ = _run_cli(tmp_path, "diff", "old.json", "same.json", "--json")
    assert code == 0 and json.loads(out)["status"] == "pass"
    code, out, _ = _run_cli(tmp_path, "diff", "old.json", "new.json", "--json")
    data = json.loads(out)
    assert code == 1 and data["witnesses"][0]["principal"] == ALICE
    code, _, _ = _run_cli(tmp_path, "diff", "old.json", "new.json", "--action", "kms:Encrypt")
    assert code == 0


def test_cli_public_and_bad_input(tmp_path: Any) -> None:
    (tmp_path / "pub.json").write_text(json.dumps(doc(allow("*"))))
    (tmp_path / "bad.json").write_text(json.dumps({"Statement": [{"Effect": "Maybe"}]}))
    code, out, _ = _run_cli(tmp_path, "public", "pub.json", "--account", A)
    assert code == 1 and "999999999999" in out
    code, _, err = _run_cli(tmp_path, "public", "bad.json", "--account", A)
    assert code == 2 and "bad.json: Statement[0].Effect" in err and "Traceback" not in err
    code, _, err = _run_cli(tmp_path, "public", "pub.json", "--account", "12")
    assert code == 2 and "12-digit" in err
    code, _, err = _run_cli(tmp_path, "diff", "missing.json", "pub.json")
    assert code == 2 and "missing.json" in err
    code, _, err = _run_cli(tmp_path, "diff", "pub.json", "pub.json", "--action", "kms:Nope*")
    assert code == 2 and "matches no action" in err


def test_the_shortcut_without_the_solver_agrees_with_the_solver() -> None:
    # Every Allow names only the account's own principals: proved without the solver.
    own = doc(ROOT, allow({"AWS": ALICE}), allow({"AWS": f"arn:aws:iam::{A}:user/bob"}))
    v = no_public_access(own, [A], key=KEY)
    assert v.status == "pass" and "trusted accounts only" in v.reason
    # A user named directly is outside an allow-list that lacks it, even in a closed account.
    v = access_not_granted(
        own, ["kms:Decrypt"], [ALICE, f"arn:aws:iam::{A}:root"], closed_accounts=[A], key=KEY
    )
    assert v.status == "fail" and v.witness is not None and v.witness.principal.endswith("bob")
    v = access_not_granted(
        own,
        ["kms:Decrypt"],
        [ALICE, f"arn:aws:iam::{A}:user/bob", f"arn:aws:iam::{A}:root"],
        closed_accounts=[A],
        key=KEY,
    )
    assert v.status == "pass" and "allowed ones only" in v.reason


def test_an_administrators_statement_does_not_stop_the_shortcut() -> None:
    # The administrator is named only for actions the question is not about: still no solver.
    admin = f"arn:aws:iam::{A}:role/admin"
    policy = doc(ROOT, allow({"AWS": admin}, ["kms:Describe*", "kms:Put*"]), allow({"AWS": ALICE}))
    allowed = [ALICE, f"arn:aws:iam::{A}:root"]
    v = access_not_granted(policy, ["kms:Decrypt"], allowed, closed_accounts=[A], key=KEY)
    assert v.status == "pass" and "allowed ones only" in v.reason
    # The same administrator given kms:* can decrypt: the shortcut must not pass it.
    policy = doc(ROOT, allow({"AWS": admin}, "kms:*"), allow({"AWS": ALICE}))
    v = access_not_granted(policy, ["kms:Decrypt"], allowed, closed_accounts=[A], key=KEY)
    assert v.status == "fail" and v.witness is not None and v.witness.principal == admin
    # NotAction that leaves kms:Decrypt in is no administrators' statement either.
    stmt = {"Effect": "Allow", "Principal": {"AWS": admin}, "NotAction": "kms:Encrypt"}
    stmt["Resource"] = "*"
    v = access_not_granted(doc(ROOT, stmt), ["kms:Decrypt"], allowed, closed_accounts=[A], key=KEY)
    assert v.status == "fail" and v.witness is not None and v.witness.principal == admin


def test_enumerating_witnesses_after_an_unsat_steer_terminates() -> None:
    # z3 hung (beyond any timeout) in a push after an unsat check while steering the fifth
    # witness of this policy; a subprocess keeps a regression from stalling the suite.
    import subprocess
    import sys
    from pathlib import Path

    policy = doc(
        allow(
            "*",
            "kms:Describe*",
            StringEquals={"kms:ViaService": "dynamodb.us-east-1.amazonaws.com"},
        ),
        allow(
            {"AWS": f"arn:aws:iam::{A}:role/app"},
            "kms:*",
            StringEquals={"aws:SourceAccount": A},
        ),
    )
    script = (
        "import json, sys\n"
        "from kmsguard.access.prove import Key, no_public_access\n"
        f"v = no_public_access(json.loads(sys.argv[1]), [{A!r}], [{ORG!r}], "
        f"key=Key.in_account({A!r}), limit=5)\n"
        "print(v.status, len(v.witnesses))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, json.dumps(policy)],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    status, count = proc.stdout.split()
    assert status == "fail" and int(count) >= 2


def test_rcps_are_part_of_the_proof() -> None:
    row("prove-rcps")
    policy = doc(ROOT, allow("*"))
    perimeter = doc(
        {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"},
        {
            "Effect": "Deny",
            "Principal": "*",
            "Action": "kms:*",
            "Resource": "*",
            "Condition": {"StringNotEqualsIfExists": {"aws:PrincipalOrgID": ORG}},
        },
    )
    allowed = [f"arn:aws:iam::{A}:root"]
    v = access_not_granted(
        policy, ["kms:Decrypt"], allowed, closed_accounts=[A], rcps=[perimeter], key=KEY, limit=4
    )
    assert v.status == "fail" and v.witnesses
    for w in v.witnesses:  # each confirmed by the evaluator with the RCP, inside the perimeter
        assert w.context.get("aws:PrincipalOrgID") == ORG
        assert evaluate(
            w.principal,
            w.action,
            w.resource,
            identity_policies=[assumed_identity_policy(w.action, w.resource)],
            resource_policy=policy,
            context=w.context,
            rcps=[perimeter],
        ).allowed
    no_decrypt = doc(
        {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"},
        {"Effect": "Deny", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*"},
    )
    v = access_not_granted(
        policy, ["kms:Decrypt"], allowed, closed_accounts=[A], rcps=[no_decrypt], key=KEY
    )
    assert v.status == "pass"
    # RetireGrant is outside RCPs: a level that allows nothing still leaves it to the key policy.
    nothing = doc({"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "*"})
    anyone = doc(ROOT, allow("*", "kms:*"))
    v = access_not_granted(
        anyone, ["kms:RetireGrant"], allowed, closed_accounts=[A], rcps=[nothing], key=KEY
    )
    assert v.status == "fail"
    v = access_not_granted(
        anyone, ["kms:Decrypt"], allowed, closed_accounts=[A], rcps=[nothing], key=KEY
    )
    assert v.status == "pass"


# -- the key's account unknown: every account that may own the key is asked -------------------

# Opens the key to everyone unless it is in account A: private only if A owns the key.
OUTSIDE_A = allow("*", "kms:Decrypt", StringNotEquals={"aws:ResourceAccount": A})


def test_without_the_key_its_account_is_unknown_not_the_account_a_root_statement_names() -> None:
    row("prove-key-account-unknown")
    # Guessing A (the root the policies name) hid this: in any other account it is new access.
    v = no_new_access(doc(ROOT), doc(ROOT, OUTSIDE_A))
    assert v.status == "fail" and v.witness is not None
    assert account_of(v.witness.resource) != A
    assert confirmed(doc(ROOT, OUTSIDE_A), v.witness)
    assert no_new_access(doc(ROOT), doc(ROOT, OUTSIDE_A), key=KEY).status == "pass"
    assert no_new_access(doc(ROOT), doc(ROOT)).status == "pass"
    assert equivalent(doc(ROOT), doc(ROOT, OUTSIDE_A)).status == "fail"


def test_public_without_key_or_trusted_account_holds_for_every_owner() -> None:
    # A's root is foreign to a key in any other account.
    assert no_public_access(doc(ROOT), []).status == "fail"
    assert no_public_access(doc(ROOT), [A]).status == "pass"


def test_too_many_named_accounts_for_an_unknown_owner_is_unknown_never_a_pass() -> None:
    accounts = [f"{n:012d}" for n in range(1, questions.MAX_KEY_ACCOUNTS + 1)]
    policy = doc(*(allow({"AWS": f"arn:aws:iam::{a}:root"}) for a in accounts))
    v = no_new_access(policy, policy)
    assert v.status == "unknown" and "account is unknown" in v.reason
    assert no_new_access(policy, policy, key=KEY).status == "pass"


def test_cli_diff_without_account_asks_every_owner(tmp_path: Any) -> None:
    (tmp_path / "old.json").write_text(json.dumps(doc(ROOT)))
    (tmp_path / "new.json").write_text(json.dumps(doc(ROOT, OUTSIDE_A)))
    code, _, _ = _run_cli(tmp_path, "diff", "old.json", "new.json", "--json")
    assert code == 1
    code, _, _ = _run_cli(tmp_path, "diff", "old.json", "new.json", "--account", A)
    assert code == 0


@pytest.mark.parametrize("partition", ["aws", "aws-cn", "aws-us-gov"])
def test_a_session_acts_with_its_role_s_policies_in_every_partition(partition: str) -> None:
    from kmsguard.access.policy import parse_policy
    from kmsguard.access.prove.concretize import _identity_for
    from kmsguard.access.prove.universe import Side

    acct = "111122223333"
    key = f"arn:{partition}:kms:us-east-1:{acct}:key/k"
    own = [parse_policy(assumed_identity_policy("kms:Decrypt", key), kind="identity")]
    other = [parse_policy(assumed_identity_policy("kms:Encrypt", key), kind="identity")]
    side = Side(
        parse_policy(
            {
                "Statement": [
                    {"Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "*"}
                ]
            },
            kind="resource",
        ),
        {
            f"arn:{partition}:iam::{acct}:user/r": other,  # a user of the same name
            f"arn:{partition}:iam::444455556666:role/r": other,  # another account's role
            f"arn:{partition}:iam::{acct}:role/ops/r": own,  # the role, under a path
        },
    )
    session = f"arn:{partition}:sts::{acct}:assumed-role/r/s"
    assert _identity_for(session, side) is own
    elsewhere = "aws-cn" if partition == "aws" else "aws"
    assert _identity_for(session.replace(f"arn:{partition}:", f"arn:{elsewhere}:"), side) is None
    assert _identity_for(f"arn:{partition}:sts::{acct}:assumed-role/q/s", side) is None
