"""The prover's universe covers every request AWS accepts: one case per way it once did not."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from kmsguard.access.prove import Key, no_new_access, no_public_access
from tests.access.docs import row
from tests.access.test_prove import confirmed

A = "111122223333"
KEY = Key.in_account(A)
ROOT = {
    "Sid": "Root",
    "Effect": "Allow",
    "Principal": {"AWS": f"arn:aws:iam::{A}:root"},
    "Action": "kms:*",
    "Resource": "*",
}
WHEN = datetime(2026, 6, 1, tzinfo=UTC)


def doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def stmt(effect: str, principal: Any, action: str = "kms:Decrypt", **cond: Any) -> dict[str, Any]:
    st: dict[str, Any] = {"Effect": effect, "Principal": principal, "Action": action}
    st["Resource"] = "*"
    if cond:
        st["Condition"] = cond
    return st


def public(policy: dict[str, Any], **kw: Any) -> Any:
    v = no_public_access(policy, [A], key=KEY, **kw)
    for w in v.witnesses:
        assert confirmed(policy, w), w.to_json()
        assert f"::{A}:" not in w.principal
    return v


# -- Unicode values ------------------------------------------------------------------------------


def test_a_unicode_encryption_context_value_is_public() -> None:
    row("prove-unicode")
    policy = doc(
        ROOT,
        stmt("Allow", {"AWS": "*"}, StringEquals={"kms:EncryptionContext:team": "café"}),
    )
    v = public(policy)
    assert v.status == "fail" and v.witness is not None
    assert v.witness.context == {"kms:EncryptionContext:team": "café"}


def test_the_kelvin_sign_folds_to_k_so_a_case_blind_deny_has_a_gap() -> None:
    row("prove-unicode")
    # "\u212a".lower() == "k": IgnoreCase lets it in, the Deny on "k"/"K" does not stop it.
    policy = doc(
        stmt("Allow", {"AWS": "*"}, StringEqualsIgnoreCase={"kms:EncryptionContext:t": "k"}),
        stmt("Deny", {"AWS": "*"}, StringEquals={"kms:EncryptionContext:t": ["k", "K"]}),
    )
    v = public(policy)
    assert v.status == "fail" and v.witness is not None
    assert v.witness.context == {"kms:EncryptionContext:t": "\u212a"}


def test_values_that_look_like_solver_escapes_are_read_literally() -> None:
    row("prove-unicode")
    # z3 reads "\u{41}" in a plain literal as "A": the prover must not.
    policy = doc(stmt("Allow", {"AWS": "*"}, StringEquals={"kms:EncryptionContext:t": "\\u{41}"}))
    v = public(policy)
    assert v.status == "fail" and v.witness is not None
    assert v.witness.context == {"kms:EncryptionContext:t": "\\u{41}"}
    deny_a = doc(
        stmt("Allow", {"AWS": "*"}, StringEquals={"kms:EncryptionContext:t": "\\u{41}"}),
        stmt("Deny", {"AWS": "*"}, StringEquals={"kms:EncryptionContext:t": "A"}),
    )
    assert public(deny_a).status == "fail"


def test_a_character_beyond_the_solver_is_unknown_never_a_pass() -> None:
    row("prove-unicode")
    policy = doc(
        stmt("Allow", {"AWS": "*"}, StringEquals={"kms:EncryptionContext:t": "\U000e0041"})
    )
    v = no_public_access(policy, [A], key=KEY)
    assert v.status == "unknown" and "U+E0041" in v.reason


# -- IAM names -----------------------------------------------------------------------------------


def test_a_path_may_hold_the_trusted_account_id_between_colons() -> None:
    row("prove-iam-names")
    policy = doc(stmt("Allow", {"AWS": "*"}, StringLike={"aws:PrincipalArn": f"*:{A}:*"}))
    v = public(policy)
    assert v.status == "fail" and v.witness is not None
    assert f":{A}:" in v.witness.principal or f":{A}:" in str(v.witness.context)


def test_a_role_named_with_another_case_is_the_same_role() -> None:
    row("prove-iam-names")
    # IAM names are case-blind in Principal; aws:username keeps the caller's spelling.
    old = doc(ROOT)
    new = doc(
        ROOT,
        stmt(
            "Allow",
            {"AWS": f"arn:aws:iam::{A}:user/Alice"},
            StringEquals={"aws:username": "ALICE"},
        ),
    )
    v = no_new_access(old, new, key=KEY)
    assert v.status == "fail" and v.witness is not None
    assert v.witness.principal == f"arn:aws:iam::{A}:user/ALICE"


# -- the request's time --------------------------------------------------------------------------


def test_current_time_is_set_by_aws_not_chosen_by_the_caller() -> None:
    row("prove-request-time")
    policy = doc(
        ROOT,
        stmt("Allow", {"AWS": "*"}, DateLessThan={"aws:CurrentTime": "2000-01-01T00:00:00Z"}),
    )
    assert no_public_access(policy, [A], key=KEY, request_time=WHEN).status == "pass"
    assert no_public_access(policy, [A], key=KEY).status == "pass"  # now
    window = (datetime(1999, 1, 1, tzinfo=UTC), WHEN)
    v = no_public_access(policy, [A], key=KEY, request_time=window)
    assert v.status == "fail" and v.witness is not None
    assert v.witness.context["aws:CurrentTime"] < "2000-01-01"
    assert confirmed(policy, v.witness)


def test_epoch_time_and_current_time_are_one_clock() -> None:
    row("prove-request-time")
    t = int(WHEN.timestamp())
    policy = doc(
        stmt(
            "Allow",
            {"AWS": "*"},
            NumericLessThan={"aws:EpochTime": str(t + 10)},
            DateGreaterThan={"aws:CurrentTime": "2026-06-01T00:00:05Z"},
        )
    )
    v = public(policy, request_time=(WHEN, datetime(2026, 6, 2, tzinfo=UTC)))
    assert v.status == "fail" and v.witness is not None
    assert t + 5 < v.witness.context["aws:EpochTime"] < t + 10
    assert public(policy, request_time=WHEN).status == "pass"


def test_token_issue_time_is_before_the_request() -> None:
    row("prove-request-time")
    later = doc(
        stmt("Allow", {"AWS": "*"}, DateGreaterThan={"aws:TokenIssueTime": "2026-07-01T00:00:00Z"})
    )
    assert public(later, request_time=WHEN).status == "pass"
    earlier = doc(
        stmt("Allow", {"AWS": "*"}, DateLessThan={"aws:TokenIssueTime": "2026-05-01T00:00:00Z"})
    )
    assert public(earlier, request_time=WHEN).status == "fail"


# -- numbers -------------------------------------------------------------------------------------


@pytest.mark.parametrize("bound", ["1e400", "9" * 5000, "-1e400"])
def test_a_number_beyond_floats_is_unknown(bound: str) -> None:
    row("prove-numbers")
    rotate = "kms:EnableKeyRotation"
    policy = doc(
        stmt("Allow", {"AWS": "*"}, rotate, NumericLessThan={"kms:RotationPeriodInDays": bound})
    )
    v = no_public_access(policy, [A], key=KEY, actions=[rotate])
    assert v.status == "unknown" and "beyond" in v.reason


def _cli(tmp_path: Path, policy: dict[str, Any]) -> tuple[int, str]:
    (tmp_path / "p.json").write_text(json.dumps(policy))
    proc = subprocess.run(
        [sys.executable, "-m", "kmsguard.access", "public", "p.json", "--account", A],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        timeout=120,
    )
    return proc.returncode, proc.stdout + proc.stderr


def test_cli_huge_numbers_exit_3_and_bad_numbers_exit_2(tmp_path: Path) -> None:
    row("prove-numbers")
    for bound in ("1e400", "9" * 5000):
        huge = doc(stmt("Allow", {"AWS": "*"}, NumericLessThan={"kms:Whatever": bound}))
        code, out = _cli(tmp_path, huge)
        assert code == 3 and "Traceback" not in out and "beyond" in out
    bad = doc(stmt("Allow", {"AWS": "*"}, NumericLessThan={"kms:Whatever": "ten"}))
    code, out = _cli(tmp_path, bad)
    assert code == 2 and "Traceback" not in out and "is not a number" in out


# -- sets ----------------------------------------------------------------------------------------


def test_three_set_conditions_need_three_values() -> None:
    row("prove-set-size")
    conds = {
        "ForAnyValue:StringEquals": {"kms:EncryptionContextKeys": "dept"},
        "ForAnyValue:StringLike": {"kms:EncryptionContextKeys": "proj*"},
        "ForAnyValue:StringEqualsIgnoreCase": {"kms:EncryptionContextKeys": "TEAM"},
    }
    policy = doc(ROOT, stmt("Allow", {"AWS": "*"}, **conds))
    v = public(policy)
    assert v.status == "fail" and v.witness is not None
    assert len(v.witness.context["kms:EncryptionContextKeys"]) == 3
    assert no_new_access(doc(ROOT), policy, key=KEY).status == "fail"


# -- accounts ------------------------------------------------------------------------------------


def test_account_wildcards_are_reasoned_over_not_sampled() -> None:
    row("prove-account-patterns")
    policy = doc(
        stmt("Allow", {"AWS": "*"}, StringLike={"kms:CallerAccount": "4*"}),
        stmt("Deny", {"AWS": "*"}, StringLike={"kms:CallerAccount": ["*8", "*9"]}),
    )
    v = public(policy)
    assert v.status == "fail" and v.witness is not None
    account = v.witness.principal.split(":")[4]
    assert account.startswith("4") and account[-1] not in "89"


def test_an_account_pattern_that_covers_every_account_is_public() -> None:
    row("prove-account-patterns")
    policy = doc(
        stmt("Allow", {"AWS": "*"}, StringLike={"aws:PrincipalAccount": "????????????"}),
        stmt(
            "Deny",
            {"AWS": "*"},
            StringLike={"aws:PrincipalAccount": [f"{d}*" for d in "012356789"]},
        ),
    )
    v = public(policy)
    assert v.status == "fail" and v.witness is not None
    assert v.witness.principal.split(":")[4][0] == "4"


# -- service principals --------------------------------------------------------------------------


def test_a_service_request_with_or_without_principal_arn() -> None:
    row("prove-service-principal-arn")
    svc = {"Service": "logs.amazonaws.com"}
    absent = doc(stmt("Allow", svc, "kms:Encrypt", Null={"aws:PrincipalArn": "true"}))
    v = public(absent)
    assert v.status == "fail" and v.witness is not None
    assert v.witness.principal == "logs.amazonaws.com"
    assert v.witness.context == {"aws:PrincipalArn": None}
    present = doc(
        stmt("Allow", svc, "kms:Encrypt", StringEquals={"aws:PrincipalArn": "logs.amazonaws.com"})
    )
    assert public(present).status == "fail"


def test_any_other_service_name_is_considered_not_a_sample() -> None:
    row("prove-service-principal-arn")
    # Every IAM principal and every service named s... is denied, so are requests without
    # aws:PrincipalArn; a service named otherwise is still let in.
    policy = doc(
        stmt("Allow", "*", "kms:Encrypt"),
        stmt("Deny", "*", "kms:Encrypt", StringLike={"aws:PrincipalArn": ["arn:*", "s*"]}),
        stmt("Deny", "*", "kms:Encrypt", Null={"aws:PrincipalArn": "true"}),
    )
    v = public(policy)
    assert v.status == "fail" and v.witness is not None
    assert v.witness.principal.endswith(".amazonaws.com")
    assert not v.witness.principal.startswith("s")


# -- keys per action -----------------------------------------------------------------------------


def test_an_action_without_encryption_context_cannot_meet_a_context_condition() -> None:
    row("prove-keys-per-action")
    cond = {"StringEquals": {"kms:EncryptionContext:dept": "x"}}
    put = doc(ROOT, stmt("Allow", {"AWS": "*"}, "kms:PutKeyPolicy", **cond))
    assert no_public_access(put, [A], key=KEY).status == "pass"
    assert no_new_access(doc(ROOT), put, key=KEY).status == "pass"
    decrypt = doc(ROOT, stmt("Allow", {"AWS": "*"}, "kms:Decrypt", **cond))
    assert no_public_access(decrypt, [A], key=KEY).status == "fail"


def test_a_key_the_catalog_does_not_know_stays_the_callers_on_every_action() -> None:
    row("prove-keys-per-action")
    cond = {"StringEquals": {"kms:SomeFutureKey": "x"}}
    put = doc(ROOT, stmt("Allow", {"AWS": "*"}, "kms:PutKeyPolicy", **cond))
    assert no_public_access(put, [A], key=KEY).status == "fail"


# -- values AWS sets keep their form -------------------------------------------------------------


@pytest.mark.parametrize("key", ["aws:PrincipalOrgID", "aws:SourceOrgID"])
def test_an_organization_id_has_the_form_aws_gives_it(key: str) -> None:
    row("prove-value-domains")
    svc = {"Service": "logs.amazonaws.com"} if key == "aws:SourceOrgID" else {"AWS": "*"}
    # No organization id reads "org-1": the statement can never apply.
    bogus = doc(stmt("Allow", svc, StringEquals={key: "org-1"}))
    assert public(bogus).status == "pass"
    real = doc(stmt("Allow", svc, StringLike={key: "o-*"}))
    v = public(real)
    assert v.status == "fail" and v.witness is not None
    org = v.witness.context[key]
    assert org.startswith("o-") and 12 <= len(org) <= 34 and org[2:].isalnum()


def test_an_organization_path_has_the_form_aws_gives_it() -> None:
    row("prove-value-domains")
    key = "aws:PrincipalOrgPaths"
    bogus = doc(stmt("Allow", {"AWS": "*"}, **{"ForAnyValue:StringLike": {key: "x/*"}}))
    assert public(bogus).status == "pass"
    real = doc(stmt("Allow", {"AWS": "*"}, **{"ForAnyValue:StringLike": {key: "o-*/r-*/ou-*"}}))
    v = public(real)
    assert v.status == "fail" and v.witness is not None
    (path,) = v.witness.context[key]
    assert path.startswith("o-") and "/r-" in path and path.endswith("/")


def test_an_account_key_holds_twelve_digits() -> None:
    row("prove-value-domains")
    bogus = doc(stmt("Allow", {"AWS": "*"}, StringLike={"kms:CallerAccount": "?????????????*"}))
    assert public(bogus).status == "pass"
    short = doc(stmt("Allow", {"AWS": "*"}, StringLike={"aws:PrincipalAccount": "12345*"}))
    v = public(short)
    assert v.status == "fail" and v.witness is not None
    assert v.witness.principal.split(":")[4].startswith("12345")
