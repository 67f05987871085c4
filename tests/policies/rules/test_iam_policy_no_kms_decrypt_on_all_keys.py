"""iam-policy-no-kms-decrypt-on-all-keys: no identity policy decrypts with any key."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kmsguard.contract import DYNAMODB_FULL_ACCESS_POLICY_ARN, AwsType
from policies.rules import iam_policy_no_kms_decrypt_on_all_keys as iam_decrypt
from tests.access.docs import row
from tests.policies.helpers import ACCOUNT, KEY_ARN, resource_args, run_rule

UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


def identity(statement: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def test_iam_policy_naming_an_unknown_action_is_an_advisory_naming_it():
    doc = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["kms:Decrpt", "s3:GetObject"], "Resource": KEY_ARN},
            {"Effect": "Deny", "Action": "kms:Frobnicate", "Resource": "*"},
        ],
    }
    r = run_rule(iam_decrypt, resource_args(AwsType.IAM_POLICY, {"policy": json.dumps(doc)}))
    assert r.messages == [] and r.deferred == []
    assert [a.split(" matches")[0] for a in r.advice] == [
        "Policy 'r': Statement[0].Action[0]: 'kms:Decrpt'",
        "Policy 'r': Statement[1].Action: 'kms:Frobnicate'",
    ]
    assert "(closest: kms:Decrypt" in r.advice[0]
    assert [f.code for f in r.advice_found] == ["unknown-action", "unknown-action"]
    assert r.advice == [f"Policy 'r': {f.detail}" for f in r.advice_found]


@pytest.mark.parametrize(
    "statement",
    [
        {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"},
        {"Effect": "Allow", "Action": "kms:*", "Resource": "*"},
        {"Effect": "Allow", "Action": "kms:Decr*", "Resource": "*"},
        {"Effect": "Allow", "Action": "*", "Resource": "*"},
        {"Effect": "Allow", "Action": "KMS:DECRYPT", "Resource": "arn:aws:kms:*:*:key/*"},
        {"Effect": "Allow", "NotAction": "s3:*", "Resource": "*"},
        {"Effect": "Allow", "Action": "kms:ReEncrypt*", "Resource": "*"},
        {"Effect": "Allow", "Action": "kms:Decrypt", "NotResource": "arn:aws:s3:::bucket/*"},
    ],
)
@pytest.mark.parametrize(
    "rtype",
    [
        AwsType.IAM_POLICY,
        AwsType.IAM_USER_POLICY,
        AwsType.IAM_ROLE_POLICY,
        AwsType.IAM_GROUP_POLICY,
    ],
)
def test_iam_decrypt_on_all_keys(statement, rtype):
    r = run_rule(iam_decrypt, resource_args(rtype, {"policy": identity(statement)}))
    [f] = r.found
    assert (f.rule, f.code) == ("iam-policy-no-kms-decrypt-on-all-keys", "decrypt-on-all-keys")
    assert f.witness["statement"] == "statement #0"
    assert set(f.witness["actions"]) <= {"kms:Decrypt", "kms:ReEncryptFrom"}
    assert r.texts == [
        f"{f.resource}: statement #0 allows {' and '.join(f.witness['actions'])} on all KMS keys "
        f"(Resource {', '.join(f.witness['resources']) or '*'})"
    ]


@pytest.mark.parametrize(
    "statement",
    [
        {
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": "arn:aws:kms:us-east-1:123456789012:key/1111",
        },
        {"Effect": "Deny", "Action": "kms:Decrypt", "Resource": "*"},
        {"Effect": "Allow", "NotAction": "kms:*", "Resource": "*"},
        {
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": "*",
            "Condition": {"StringEquals": {"kms:ViaService": "dynamodb.us-east-1.amazonaws.com"}},
        },
        {"Effect": "Allow", "Action": "kms:DescribeKey", "Resource": "*"},
    ],
)
def test_iam_decrypt_compliant(statement):
    assert (
        run_rule(
            iam_decrypt, resource_args(AwsType.IAM_POLICY, {"policy": identity(statement)})
        ).messages
        == []
    )


def test_iam_role_inline_policy_and_managed_arns():
    props = {
        "inlinePolicies": [
            {
                "name": "p",
                "policy": identity({"Effect": "Allow", "Action": "kms:*", "Resource": "*"}),
            }
        ],
        "managedPolicyArns": ["arn:aws:iam::aws:policy/AdministratorAccess"],
    }
    r = run_rule(iam_decrypt, resource_args(AwsType.IAM_ROLE, props))
    assert r.codes == ["decrypt-on-all-keys", "managed-policy-decrypts-all-keys"]
    assert r.found[0].resource == "Role 'r' inline policy #0"
    assert r.found[1].witness == {
        "policy": "AdministratorAccess",
        "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess",
    }
    assert r.texts[1] == (
        "Role 'r': attaches AWS managed policy AdministratorAccess, which allows kms:Decrypt on "
        "all keys"
    )


@pytest.mark.parametrize(
    ("arn", "count"),
    [
        ("arn:aws:iam::aws:policy/AdministratorAccess", 1),
        ("arn:aws:iam::aws:policy/PowerUserAccess", 1),
        (DYNAMODB_FULL_ACCESS_POLICY_ARN, 0),
    ],
)
def test_iam_managed_policy_attachment(arn, count):
    r = run_rule(
        iam_decrypt,
        resource_args(AwsType.IAM_USER_POLICY_ATTACHMENT, {"user": "u", "policyArn": arn}),
    )
    assert len(r.messages) == count


def test_iam_unknown_document_is_deferred():
    r = run_rule(iam_decrypt, resource_args(AwsType.IAM_POLICY, {"policy": UNKNOWN}))
    assert r.messages == [] and r.deferred_codes == ["policy-unknown"]
    assert r.deferred == ["Policy 'r': the policy document is unknown during preview"]


def test_iam_unreadable_document_is_left_to_the_verifier():
    r = run_rule(iam_decrypt, resource_args(AwsType.IAM_POLICY, {"policy": "{not json"}))
    assert r.messages == [] and r.deferred_codes == ["policy-unreadable"]
    problem = r.deferred_found[0].witness["problem"]
    assert r.deferred == [f"Policy 'r': {problem}; checked by the verifier"]


def test_iam_unknown_inline_policies_and_attachments_are_deferred():
    r = run_rule(
        iam_decrypt, resource_args(AwsType.IAM_ROLE, {"inlinePolicies": [UNKNOWN], "name": "n"})
    )
    assert r.deferred_codes == ["policy-unknown"]
    assert r.deferred_found[0].witness == {"property": "inlinePolicies[0]"}
    r = run_rule(
        iam_decrypt, resource_args(AwsType.IAM_ROLE_POLICY_ATTACHMENT, {"policyArn": UNKNOWN})
    )
    assert r.deferred_codes == ["policy-unknown"]
    assert r.deferred == ["RolePolicyAttachment 'r': policyArn is unknown during preview"]


def test_known_list_matches_the_managed_policy_data():
    from policies.managed import generate_known_list, known_decrypt_on_all_keys

    assert set(generate_known_list()) == set(known_decrypt_on_all_keys())
    assert "AdministratorAccess" in known_decrypt_on_all_keys()


@pytest.mark.parametrize(
    "condition",
    [
        {"StringEquals": {"aws:ResourceAccount": ACCOUNT}},
        {"ForAllValues:StringEquals": {"kms:ViaService": "dynamodb.us-east-1.amazonaws.com"}},
        {"StringLike": {"kms:ViaService": "*"}},
        {"StringEqualsIfExists": {"kms:ViaService": "dynamodb.us-east-1.amazonaws.com"}},
        # Every negated operator holds on a direct call, where the key is absent: numeric,
        # date and IP negations as much as string and ARN ones.
        {"NumericNotEquals": {"kms:ViaService": "1"}},
        {"DateNotEquals": {"kms:EncryptionContext:purpose": "2020-01-01T00:00:00Z"}},
        {"NotIpAddress": {"kms:ViaService": "10.0.0.0/8"}},
        # An operator IAM does not know (operators are case-sensitive) narrows nothing.
        {"stringequals": {"kms:ViaService": "dynamodb.us-east-1.amazonaws.com"}},
    ],
)
def test_iam_decrypt_condition_that_does_not_narrow(condition):
    st = {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*", "Condition": condition}
    r = run_rule(iam_decrypt, resource_args(AwsType.IAM_POLICY, {"policy": identity(st)}))
    assert len(r.messages) == 1 and "on all KMS keys" in r.texts[0]


@pytest.mark.parametrize(
    "condition",
    [
        pytest.param({"NumericNotEquals": {"kms:ViaService": "1"}}, id=row("absent-key")),
        {"DateNotEquals": {"kms:EncryptionContext:purpose": "2020-01-01T00:00:00Z"}},
        {"NotIpAddress": {"kms:ViaService": "10.0.0.0/8"}},
    ],
)
def test_a_negated_condition_the_rule_flags_lets_a_direct_call_decrypt(condition):
    """The evaluator's answer the rule follows: a direct call on any key is allowed."""
    from kmsguard.access import evaluate

    st = {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*", "Condition": condition}
    decision = evaluate(
        f"arn:aws:iam::{ACCOUNT}:user/alice",
        "kms:Decrypt",
        KEY_ARN,
        identity_policies=[json.loads(identity(st))],
        resource_policy={
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                }
            ],
        },
    )
    assert decision.allowed


def test_a_set_negation_on_a_service_key_still_narrows_to_calls_through_a_service():
    condition = {"ForAnyValue:StringNotEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}}
    st = {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*", "Condition": condition}
    r = run_rule(iam_decrypt, resource_args(AwsType.IAM_POLICY, {"policy": identity(st)}))
    assert r.messages == []


def test_iam_unknown_managed_policy_arns_are_deferred():
    r = run_rule(iam_decrypt, resource_args(AwsType.IAM_ROLE, {"managedPolicyArns": UNKNOWN}))
    assert r.messages == [] and r.deferred_codes == ["policy-unknown"]
    assert r.deferred == ["Role 'r': managedPolicyArns is unknown during preview"]


def test_iam_managed_policy_outside_catalog_is_deferred():
    args = resource_args(
        AwsType.IAM_USER_POLICY_ATTACHMENT,
        {"user": "u", "policyArn": "arn:aws:iam::aws:policy/NoSuchManagedPolicy"},
    )
    r = run_rule(iam_decrypt, args)
    assert r.messages == [] and r.deferred_codes == ["managed-policy-uncatalogued"]
    assert r.deferred == [
        "UserPolicyAttachment 'r': AWS managed policy NoSuchManagedPolicy is not in the managed "
        "policy catalog"
    ]


@pytest.mark.parametrize(
    ("deny", "flagged"),
    [
        ({"Effect": "Deny", "Action": "kms:Decrypt", "Resource": "*"}, ["kms:ReEncryptFrom"]),
        ({"Effect": "Deny", "Action": "kms:*", "Resource": "*"}, []),
        # Conditional or narrower denies leave some keys open: the Allow still counts.
        (
            {
                "Effect": "Deny",
                "Action": "kms:Decrypt",
                "Resource": "*",
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
            ["kms:Decrypt", "kms:ReEncryptFrom"],
        ),
        (
            {"Effect": "Deny", "Action": "kms:*", "Resource": "arn:aws:kms:*:111122223333:key/*"},
            ["kms:Decrypt", "kms:ReEncryptFrom"],
        ),
    ],
)
def test_iam_decrypt_cancelled_only_by_an_unconditional_deny_on_everything(deny, flagged):
    allow = {"Effect": "Allow", "Action": "kms:*", "Resource": "*"}
    doc = json.dumps({"Version": "2012-10-17", "Statement": [allow, deny]})
    r = run_rule(iam_decrypt, resource_args(AwsType.IAM_POLICY, {"policy": doc}))
    if not flagged:
        assert r.messages == []
    else:
        [f] = r.found
        assert (f.code, f.witness["actions"]) == ("decrypt-on-all-keys", flagged)
        assert f"allows {' and '.join(flagged)} on all KMS keys" in r.texts[0]
