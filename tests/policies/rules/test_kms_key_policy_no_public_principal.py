"""kms-key-policy-no-public-principal: the compliant key policy plus one statement per case."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from kmsguard.access import expand_actions
from kmsguard.contract import AwsType
from policies.rules import kms_key_policy_no_public_principal as public
from tests.policies.helpers import (
    ACCOUNT,
    USER,
    good_key_policy,
    key_props,
    resource_args,
    run_rule,
)

OTHER = "444455556666"
ORG = "o-abc123def4"


def _run(
    principal: Any,
    condition: dict[str, Any] | None = None,
    config: dict[str, Any] | None = None,
    effect: str = "Allow",
    action: str = "kms:Decrypt",
) -> Any:
    st: dict[str, Any] = {
        "Effect": effect,
        "Principal": principal,
        "Action": action,
        "Resource": "*",
    }
    if condition:
        st["Condition"] = condition
    doc = good_key_policy()
    doc["Statement"].append(st)
    return run_rule(
        public, resource_args(AwsType.KMS_KEY, key_props(policy=json.dumps(doc)), config)
    )


def test_compliant_key_policy_passes() -> None:
    r = _run({"AWS": USER})
    assert r.messages == [] and r.deferred == []


@pytest.mark.parametrize("principal", ["*", {"AWS": "*"}, {"AWS": ["*", USER]}, {"AWS": ["*"]}])
def test_everyone_is_public_and_the_witness_is_shown(principal: Any) -> None:
    r = _run(principal)
    [f] = r.found
    assert (f.rule, f.code, f.resource) == (
        "kms-key-policy-no-public-principal",
        "public-access",
        "Key 'r'",
    )
    assert f.witness["principal"] == "arn:aws:iam::999999999999:root"
    assert f.witness["keyAccount"] == ACCOUNT and "kms:Decrypt" in f.witness["actions"]
    assert r.texts == [f"Key 'r': {f.detail}"]
    assert "arn:aws:iam::999999999999:root may kms:Decrypt" in f.detail


@pytest.mark.parametrize(
    "condition",
    [
        {"StringEquals": {"kms:CallerAccount": ACCOUNT}},
        {"ArnLike": {"aws:PrincipalArn": USER}},
        {"StringEquals": {"AWS:PrincipalAccount": ACCOUNT}},
        {"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/app-*"}},
        {"StringLike": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/app-*"}},
    ],
)
def test_pinned_to_the_account_passes(condition: dict[str, Any]) -> None:
    assert _run({"AWS": "*"}, condition).messages == []


_OUTSIDER = rf"arn:aws:(iam|sts)::(?!{ACCOUNT})\d{{12}}:\S+"


@pytest.mark.parametrize(
    ("condition", "witness"),
    [
        ({"StringNotEquals": {"kms:CallerAccount": ACCOUNT}}, "999999999999"),
        # Which outsider the solver names (a root, a role, a session) is its choice.
        ({"StringLike": {"kms:CallerAccount": "*"}}, _OUTSIDER + " may kms:Decrypt"),
        ({"StringLike": {"kms:CallerAccount": "1*"}}, r"arn:aws:(iam|sts)::1\d{11}:"),
        ({"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}}, "kms:ViaService"),
        ({"StringEqualsIfExists": {"kms:CallerAccount": ACCOUNT}}, "service.amazonaws.com"),
        ({"ForAllValues:StringEquals": {"aws:PrincipalOrgID": ORG}}, "999999999999"),
        ({"StringLike": {"aws:PrincipalOrgID": "o-*"}}, "aws:PrincipalOrgID=o-"),
        # The role itself or one of its sessions (their aws:PrincipalArn is the role's).
        (
            {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/app"}},
            r"(:role/app|:assumed-role/app/\S+) may",
        ),
        ({"StringLike": {"aws:PrincipalArn": f"arn:aws:iam::{OTHER}:role/app-*"}}, "role/app-"),
    ],
)
def test_conditions_any_outsider_can_meet_fail_with_a_witness(
    condition: dict[str, Any], witness: str
) -> None:
    r = _run("*", condition)
    assert len(r.messages) == 1
    assert witness in r.texts[0] or re.search(witness, r.texts[0]), r.texts[0]


def test_organization_is_public_unless_trusted() -> None:
    cond = {"StringEquals": {"aws:PrincipalOrgID": ORG}}
    assert len(_run("*", cond).messages) == 1
    assert _run("*", cond, {"trustedOrganizations": [ORG]}).messages == []
    any_value = {"ForAnyValue:StringEquals": {"aws:PrincipalOrgID": ORG}}
    assert _run("*", any_value, {"trustedOrganizations": [ORG]}).messages == []


def test_other_accounts_root_is_public_unless_trusted() -> None:
    principal = {"AWS": f"arn:aws:iam::{OTHER}:root"}
    r = _run(principal)
    assert len(r.messages) == 1 and f"arn:aws:iam::{OTHER}:root may kms:Decrypt" in r.texts[0]
    assert _run(principal, config={"trustedAccounts": [OTHER]}).messages == []


def test_service_principal_needs_a_source_condition() -> None:
    svc = {"Service": "logs.amazonaws.com"}
    r = _run(svc)
    assert len(r.messages) == 1 and "logs.amazonaws.com may kms:Decrypt" in r.texts[0]
    assert _run(svc, {"StringEquals": {"aws:SourceAccount": ACCOUNT}}).messages == []
    assert _run(svc, {"ArnLike": {"aws:SourceArn": f"arn:aws:logs:*:{ACCOUNT}:*"}}).messages == []
    r = _run(svc, {"StringEquals": {"aws:SourceAccount": OTHER}})
    assert len(r.messages) == 1 and f"aws:SourceAccount={OTHER}" in r.texts[0]


def test_public_deny_is_never_flagged() -> None:
    cond = {"Bool": {"aws:SecureTransport": "false"}}
    assert _run("*", cond, effect="Deny", action="kms:*").messages == []


def test_wildcard_principal_arn_is_malformed_and_never_a_silent_pass() -> None:
    r = _run({"AWS": "arn:aws:iam::*:root"})
    [f] = r.found
    assert f.code == "key-policy-malformed" and "wildcards are not allowed" in f.witness["problem"]
    assert r.texts == [
        "Key 'r': cannot prove the key policy is not public, it is malformed at "
        f"{f.witness['path']}: {f.witness['problem']}"
    ]


def test_a_query_over_the_time_limit_is_an_advisory_naming_the_query() -> None:
    many = good_key_policy()
    many["Statement"] += [
        {
            "Effect": "Allow",
            "Principal": "*",
            "Action": "kms:Decrypt",
            "Resource": "*",
            "Condition": {"StringLike": {"aws:PrincipalArn": f"arn:aws:iam::*:role/t{i}-*-x"}},
        }
        for i in range(40)
    ]
    args = resource_args(
        AwsType.KMS_KEY, key_props(policy=json.dumps(many)), {"proverTimeoutSeconds": 0.001}
    )
    r = run_rule(public, args)
    assert r.messages == [] and r.deferred_codes == ["prover-unanswered"]
    reason = r.deferred_found[0].witness["reason"]
    assert r.deferred == [f"Key 'r': prover query no_public_access unanswered: {reason}"]


def test_an_unknown_policy_is_deferred() -> None:
    props = key_props(policy="04da6b54-80e4-46f7-96ec-b56ff0331ba9")
    r = run_rule(public, resource_args(AwsType.KMS_KEY, props))
    assert r.messages == [] and r.deferred_codes == ["key-policy-unknown"]
    assert r.deferred == ["Key 'r': the key policy is unknown during preview"]


def test_unknown_key_account_still_finds_outsiders_and_defers_named_accounts() -> None:
    doc = good_key_policy()
    doc["Statement"].append(
        {"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*"}
    )
    args = resource_args(AwsType.KMS_KEY, key_props(policy=json.dumps(doc)), provider_props=None)
    r = run_rule(public, args)
    [f] = r.found
    assert f.code == "public-access" and "999999999999" in f.detail
    # The stand-in account the prover used for the key is in neither the words nor the data.
    assert f.witness["keyAccount"] is None and "resource" not in f.witness
    assert f.witness["namedAccounts"] == [ACCOUNT]
    args = resource_args(AwsType.KMS_KEY, key_props(), provider_props=None)
    r = run_rule(public, args)
    assert r.messages == [] and r.deferred_codes == ["key-account-unknown"]
    assert r.deferred_found[0].witness == {"namedAccounts": [ACCOUNT]}
    assert ACCOUNT in r.deferred[0]
    args = resource_args(
        AwsType.KMS_KEY,
        key_props(arn=f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1111-2222"),
        provider_props=None,
    )
    assert run_rule(public, args).messages == [] and run_rule(public, args).deferred == []


PUBLIC_KMS_STAR = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "kms:*", "Resource": "*"}
    ],
}


def test_an_unknown_key_account_is_said_as_unknown_and_action_sets_are_summarised() -> None:
    args = resource_args(
        AwsType.KMS_KEY, key_props(policy=json.dumps(PUBLIC_KMS_STAR)), provider_props=None
    )
    [text] = run_rule(public, args).texts
    assert "000000000000" not in text
    assert text.startswith(
        "Key 'r': a principal outside the key's account (unknown until its ARN is known) and "
        "the trusted accounts/organizations can use the key: "
    )
    assert f" may kms:* (all {len(expand_actions('kms:*'))} actions) (" in text
    assert "kms:CancelKeyDeletion" not in text


def test_a_known_key_account_is_named() -> None:
    args = resource_args(AwsType.KMS_KEY, key_props(policy=json.dumps(PUBLIC_KMS_STAR)))
    [text] = run_rule(public, args).texts
    assert f"a principal outside account {ACCOUNT} and the trusted" in text


def with_statement(extra: dict[str, Any]) -> str:
    doc = good_key_policy()
    doc["Statement"].append(extra)
    return json.dumps(doc)


def test_baseline_compliant_key_passes():
    r = run_rule(public, resource_args(AwsType.KMS_KEY, key_props()))
    assert r.messages == [] and r.deferred == []


def test_key_policy_resource_form_is_understood():
    props = {"keyId": "k", "policy": key_props()["policy"]}
    assert run_rule(public, resource_args(AwsType.KMS_KEY_POLICY, props)).messages == []


def test_key_policy_resource_form_violation():
    props = {
        "keyId": "k",
        "policy": with_statement(
            {"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*"}
        ),
    }
    r = run_rule(public, resource_args(AwsType.KMS_KEY_POLICY, props))
    assert len(r.messages) == 1 and "999999999999:root may kms:Decrypt" in r.texts[0]
