"""Undeclared readers: every user and role of the account, judged from the listing of IAM."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest

from kmsguard.access.subject import PolicySource, Subject
from kmsguard.keypolicy import KeyPolicyRoles, build_key_policy
from verification.account import Unreadable, authorization_details, identities
from verification.outputs import StackFacts
from verification.readers import Judge, reader_rows
from verification.verdicts import MISMATCH, NOT_VERIFIABLE, PASS

ACCT = "123456789012"
REGION = "us-east-1"
KEY = f"arn:aws:kms:{REGION}:{ACCT}:key/k"
TABLE = f"arn:aws:dynamodb:{REGION}:{ACCT}:table/t"
DECLARED = f"arn:aws:iam::{ACCT}:user/app"
INTRUDER = f"arn:aws:iam::{ACCT}:user/intruder"
FACTS = StackFacts(
    table_name="t",
    table_arn=TABLE,
    key_id="k",
    key_arn=KEY,
    key_alias="alias/t",
    test_user_name="app",
    test_user_arn=DECLARED,
    key_administrator_arns=(),
    key_user_arns=(DECLARED,),
    expectations=(),
)


def key_policy(root: bool = True) -> dict[str, Any]:
    return build_key_policy(
        KeyPolicyRoles(
            account_id=ACCT, region=REGION, users=[DECLARED], enable_root_delegation=root
        )
    )


def doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


READ = doc(
    {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": KEY},
    {"Effect": "Allow", "Action": "dynamodb:Scan", "Resource": TABLE},
)


def group_details(policy: Any = READ, **user: Any) -> dict[str, Any]:
    """The listing after a group `readers` with an inline policy and a user `intruder` in it."""
    return {
        "UserDetailList": [
            {
                "UserName": "intruder",
                "Arn": INTRUDER,
                "UserPolicyList": [],
                "GroupList": ["readers"],
                "AttachedManagedPolicies": [],
                **user,
            }
        ],
        "GroupDetailList": [
            {
                "GroupName": "readers",
                "Arn": f"arn:aws:iam::{ACCT}:group/readers",
                "GroupPolicyList": [{"PolicyName": "read", "PolicyDocument": policy}],
                "AttachedManagedPolicies": [],
            }
        ],
        "RoleDetailList": [],
        "Policies": [],
    }


def managed(arn: str, document: Any) -> dict[str, Any]:
    return {
        "Arn": arn,
        "PolicyVersionList": [
            {"VersionId": "v1", "IsDefaultVersion": False, "Document": doc()},
            {"VersionId": "v2", "IsDefaultVersion": True, "Document": document},
        ],
    }


ROOT = f"arn:aws:iam::{ACCT}:root"


def trust(principal: Any) -> dict[str, Any]:
    return doc({"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"})


def rows_for(details: dict[str, Any], *, judge: Judge | None = None) -> list[Any]:
    return reader_rows(identities(details), judge or Judge(FACTS, REGION, key_policy()))


def test_a_group_policy_with_root_delegation_makes_an_undeclared_reader() -> None:
    [row] = rows_for(group_details())
    assert (row.check, row.verdict) == ("table.readers[user/intruder]", MISMATCH)
    assert row.observed == "user/intruder can read"
    assert row.detail == (
        f"{INTRUDER} is not a declared key user; dynamodb:Scan: inline policy read of group "
        "readers statement 1; kms:Decrypt via DynamoDB: root delegation in key policy statement "
        "'EnableRootAccountIamDelegation' + inline policy read of group readers statement 0 "
        "(Scan on the table)"
    )


def test_without_root_delegation_identity_policies_give_no_read() -> None:
    [row] = rows_for(group_details(), judge=Judge(FACTS, REGION, key_policy(root=False)))
    assert (row.check, row.verdict) == ("table.readers", PASS)
    assert row.observed == (
        "declared key users that can read: none; 1 other users and roles: none can read"
    )


def test_declared_key_users_are_not_findings() -> None:
    details = group_details()
    details["UserDetailList"][0]["Arn"] = DECLARED.upper().replace("ARN:AWS:IAM", "arn:aws:iam")
    [row] = rows_for(details)
    assert row.verdict == PASS
    assert row.observed == (
        "declared key users that can read: USER/APP; 0 other users and roles: none can read"
    )


@pytest.mark.parametrize(
    "policy",
    [
        pytest.param(doc({"Effect": "Allow", "Action": "*", "Resource": "*"}), id="star"),
        pytest.param(
            doc({"Effect": "Allow", "Action": ["KMS:decr*", "DynamoDB:Get*"], "Resource": "*"}),
            id="case and wildcards",
        ),
        pytest.param(
            doc({"Effect": "Allow", "NotAction": "iam:*", "NotResource": "arn:aws:s3:::x"}),
            id="NotAction and NotResource",
        ),
        pytest.param(
            json.dumps(
                doc({"Effect": "Allow", "Action": ["kms:*", "dynamodb:Query"], "Resource": "*"})
            ),
            id="document as JSON text",
        ),
    ],
)
def test_every_spelling_of_read_and_decrypt_is_found(policy: Any) -> None:
    [row] = rows_for(group_details(policy))
    assert row.verdict == MISMATCH, row


@pytest.mark.parametrize(
    "policy",
    [
        pytest.param(doc(READ["Statement"][0]), id="decrypt but no read"),
        pytest.param(doc(READ["Statement"][1]), id="read but no decrypt"),
        pytest.param(
            doc(
                *READ["Statement"],
                {"Effect": "Deny", "Action": "kms:*", "Resource": "*"},
            ),
            id="explicit deny",
        ),
        pytest.param(
            doc(
                READ["Statement"][1],
                {
                    "Effect": "Allow",
                    "Action": "kms:Decrypt",
                    "Resource": KEY,
                    "Condition": {"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}},
                },
            ),
            id="decrypt only via another service",
        ),
        pytest.param(
            doc(
                {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": KEY},
                {"Effect": "Allow", "Action": "dynamodb:Scan", "Resource": TABLE + "x"},
            ),
            id="another table",
        ),
    ],
)
def test_no_read_without_both_legs(policy: Any) -> None:
    [row] = rows_for(group_details(policy))
    assert row.verdict == PASS, row


def test_a_boundary_caps_group_policies() -> None:
    boundary = f"arn:aws:iam::{ACCT}:policy/only-dynamodb"
    details = group_details(
        PermissionsBoundary={
            "PermissionsBoundaryType": "Policy",
            "PermissionsBoundaryArn": boundary,
        }
    )
    details["Policies"] = [
        managed(boundary, doc({"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"}))
    ]
    [row] = rows_for(details)
    assert row.verdict == PASS
    details["Policies"] = [
        managed(boundary, doc({"Effect": "Allow", "Action": "*", "Resource": "*"}))
    ]
    [row] = rows_for(details)
    assert row.verdict == MISMATCH and f"within permissions boundary {boundary}" in row.detail


def test_an_scp_denying_decrypt_stops_the_read() -> None:
    scp = doc(
        {"Effect": "Allow", "Action": "*", "Resource": "*"},
        {"Effect": "Deny", "Action": "kms:Decrypt", "Resource": "*"},
    )
    [row] = rows_for(group_details(), judge=Judge(FACTS, REGION, key_policy(), scps=(scp,)))
    assert row.verdict == PASS


def test_a_role_with_a_managed_policy_is_judged_and_the_default_version_counts() -> None:
    arn = f"arn:aws:iam::{ACCT}:policy/team/read"
    role = f"arn:aws:iam::{ACCT}:role/svc/reader"
    details: dict[str, Any] = {
        "UserDetailList": [],
        "GroupDetailList": [],
        "RoleDetailList": [
            {
                "RoleName": "reader",
                "Arn": role,
                "AssumeRolePolicyDocument": trust({"AWS": ROOT}),
                "RolePolicyList": [],
                "AttachedManagedPolicies": [{"PolicyName": "read", "PolicyArn": arn}],
            }
        ],
        "Policies": [managed(arn, READ)],
    }
    [row] = rows_for(details)
    assert row.check == "table.readers[role/svc/reader]" and row.verdict == MISMATCH
    assert f"managed policy {arn} statement 1" in row.detail
    # The non-default version (empty) would have allowed nothing.
    details["Policies"] = [managed(arn, doc())]
    assert rows_for(details)[0].verdict == PASS


def test_a_managed_policy_missing_from_the_listing_is_fetched_or_refused() -> None:
    arn = f"arn:aws:iam::{ACCT}:policy/read"
    details = group_details(doc())
    details["UserDetailList"][0]["AttachedManagedPolicies"] = [
        {"PolicyName": "r", "PolicyArn": arn}
    ]
    with pytest.raises(Unreadable, match=f"managed policy {arn} is not in the listing"):
        identities(details)
    [who] = identities(details, lambda a: READ if a == arn else None)
    assert who.identity_policies[0] == PolicySource(f"managed policy {arn}", READ)


def test_a_url_encoded_document_as_the_api_returns_it_is_read_not_refused() -> None:
    # GetAccountAuthorizationDetails URL-encodes policy documents; a client that does not
    # decode them (a proxy, another SDK) hands over the encoded text.
    [row] = rows_for(group_details(quote(json.dumps(READ))))
    assert (row.check, row.verdict) == ("table.readers[user/intruder]", MISMATCH)


def test_an_inline_policy_without_a_document_is_not_verifiable_never_a_traceback() -> None:
    details = group_details()
    details["GroupDetailList"][0]["GroupPolicyList"] = [{"PolicyName": "read"}]
    with pytest.raises(Unreadable, match="inline policy read of group readers has no document"):
        identities(details)


def test_a_document_the_evaluator_refuses_is_not_verifiable_naming_the_identity() -> None:
    bad = doc({"Effect": "Maybe", "Action": "kms:Decrypt", "Resource": "*"})
    [row] = rows_for(group_details(bad))
    assert row.verdict == NOT_VERIFIABLE and INTRUDER in row.detail


class _Pages:
    def __init__(self, pages: list[dict[str, Any]]) -> None:
        self.pages = pages

    def get_paginator(self, name: str) -> Any:
        assert name == "get_account_authorization_details"
        pages = self.pages

        class P:
            def paginate(self, **kwargs: Any) -> Any:
                # Users, groups, roles and customer managed policies; AWS's are fetched singly.
                assert kwargs == {"Filter": ["User", "Group", "Role", "LocalManagedPolicy"]}
                return iter(pages)

        return P()


def test_every_page_of_the_listing_is_read() -> None:
    first = group_details()
    second = {
        "UserDetailList": [
            {
                "UserName": "late",
                "Arn": f"arn:aws:iam::{ACCT}:user/late",
                "GroupList": ["readers"],
            }
        ],
        "IsTruncated": False,
    }
    merged = authorization_details(_Pages([{**first, "IsTruncated": True, "Marker": "m"}, second]))
    found = identities(merged)
    assert [w.arn for w in found] == [INTRUDER, f"arn:aws:iam::{ACCT}:user/late"]
    rows = reader_rows(found, Judge(FACTS, REGION, key_policy()))
    assert [r.check for r in rows] == ["table.readers[user/intruder]", "table.readers[user/late]"]


def test_identity_keeps_where_each_document_comes_from() -> None:
    [who] = identities(group_details())
    assert who == Subject(
        INTRUDER,
        "user",
        (PolicySource("inline policy read of group readers", READ),),
        groups=(f"arn:aws:iam::{ACCT}:group/readers",),
    )


class _Refusing:
    def get_paginator(self, name: str) -> Any:
        from botocore.exceptions import ClientError

        class P:
            def paginate(self, **kwargs: Any) -> Any:
                error = {"Error": {"Code": "AccessDenied", "Message": "no"}}
                raise ClientError(error, "GetAccountAuthorizationDetails")

        return P()


def test_a_listing_the_admin_may_not_read_is_not_verifiable_saying_what_is_needed() -> None:
    from verification.readers import check_readers

    [row] = check_readers(_Refusing(), None, FACTS, REGION)
    assert (row.check, row.verdict) == ("table.readers", NOT_VERIFIABLE)
    assert "(AccessDenied)" in row.detail and "iam:GetAccountAuthorizationDetails" in row.detail


READER = f"arn:aws:iam::{ACCT}:role/reader"
HOP = f"arn:aws:iam::{ACCT}:role/hop"
SCAN = doc({"Effect": "Allow", "Action": "dynamodb:Scan", "Resource": TABLE})
ASSUME = doc({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"})


def role_entry(arn: str, trust_policy: Any, *policies: Any) -> dict[str, Any]:
    return {
        "RoleName": arn.rsplit("/", 1)[-1],
        "Arn": arn,
        "AssumeRolePolicyDocument": trust_policy,
        "RolePolicyList": [
            {"PolicyName": f"p{i}", "PolicyDocument": p} for i, p in enumerate(policies)
        ],
        "AttachedManagedPolicies": [],
    }


def user_entry(arn: str, *policies: Any) -> dict[str, Any]:
    return {
        "UserName": arn.rsplit("/", 1)[-1],
        "Arn": arn,
        "UserPolicyList": [
            {"PolicyName": f"p{i}", "PolicyDocument": p} for i, p in enumerate(policies)
        ],
        "GroupList": [],
        "AttachedManagedPolicies": [],
    }


def with_reader_role(
    trust_policy: Any, *others: dict[str, Any], declared: tuple[str, ...] = ()
) -> list[Any]:
    """A declared key-user role that reads the table, its trust policy, and other identities."""
    users = [o for o in others if "UserName" in o]
    roles = [o for o in others if "RoleName" in o]
    details = {
        "UserDetailList": users,
        "GroupDetailList": [],
        "RoleDetailList": [role_entry(READER, trust_policy, SCAN), *roles],
        "Policies": [],
    }
    key_users = (DECLARED, READER, *declared)
    facts = StackFacts(**{**FACTS.__dict__, "key_user_arns": key_users})
    policy = build_key_policy(KeyPolicyRoles(account_id=ACCT, region=REGION, users=list(key_users)))
    return reader_rows(identities(details), Judge(facts, REGION, policy))


def test_a_world_assumable_key_user_role_is_a_mismatch_naming_who() -> None:
    [row] = with_reader_role(trust({"AWS": "*"}))
    assert (row.check, row.verdict) == ("table.readers[role/reader]", MISMATCH)
    assert row.observed == "undeclared principals can become role/reader"
    assert row.detail.startswith(
        f"{READER} can read and can be assumed by principals that are not declared key users: "
        "any principal of any account (trust policy statement 0); as role/reader: "
        "dynamodb:Scan: inline policy p0 statement 0; kms:Decrypt via DynamoDB: key policy "
    ), row.detail


def test_an_undeclared_user_that_can_assume_a_reader_role_can_read() -> None:
    dev = f"arn:aws:iam::{ACCT}:user/dev"
    [row] = with_reader_role(trust({"AWS": ROOT}), user_entry(dev, ASSUME))
    assert (row.check, row.verdict) == ("table.readers[user/dev]", MISMATCH)
    assert row.detail.startswith(
        f"{dev} is not a declared key user; sts:AssumeRole {READER}: trust policy statement 0 "
        "+ inline policy p0 statement 0, then as role/reader: dynamodb:Scan"
    ), row.detail
    rows = with_reader_role(trust({"AWS": ROOT}), user_entry(dev, ASSUME), declared=(dev,))
    assert [r.verdict for r in rows] == [PASS]
    # Without its own sts:AssumeRole permission, trust in the account is not enough.
    assert [r.verdict for r in with_reader_role(trust({"AWS": ROOT}), user_entry(dev))] == [PASS]


def test_role_chaining_is_followed_through_the_account() -> None:
    dev = f"arn:aws:iam::{ACCT}:user/dev"
    rows = with_reader_role(
        trust({"AWS": HOP}), role_entry(HOP, trust({"AWS": dev})), user_entry(dev)
    )
    assert [r.check for r in rows] == ["table.readers[role/hop]", "table.readers[user/dev]"]
    assert (
        f"sts:AssumeRole {HOP}: trust policy statement 0, then sts:AssumeRole {READER}: trust "
        "policy statement 0, then as role/reader: dynamodb:Scan" in rows[1].detail
    )


@pytest.mark.parametrize(
    ("principal", "named"),
    [
        ({"AWS": "arn:aws:iam::111122223333:root"}, "any principal of account 111122223333"),
        ({"AWS": f"arn:aws:iam::{ACCT}:user/gone"}, f"arn:aws:iam::{ACCT}:user/gone"),
        ({"Federated": "accounts.google.com"}, "identities of accounts.google.com"),
    ],
)
def test_ways_in_from_outside_the_account_listing_are_named(principal: Any, named: str) -> None:
    action = ["sts:AssumeRole", "sts:AssumeRoleWithWebIdentity"]
    policy = doc({"Effect": "Allow", "Principal": principal, "Action": action})
    [row] = with_reader_role(policy)
    assert row.verdict == MISMATCH and f"key users: {named}" in row.detail


def test_a_service_that_assumes_a_reader_role_is_no_finding() -> None:
    assert [r.verdict for r in with_reader_role(trust({"Service": "ec2.amazonaws.com"}))] == [PASS]


def test_an_unreadable_trust_policy_is_not_verifiable() -> None:
    [row] = with_reader_role({"Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole"}]})
    assert (row.check, row.verdict) == ("table.readers[role/reader]", NOT_VERIFIABLE)
    assert "cannot read the trust policy of role/reader" in row.detail


def test_a_table_resource_policy_can_give_the_dynamodb_leg() -> None:
    only_decrypt = doc({"Effect": "Allow", "Action": "kms:Decrypt", "Resource": KEY})
    table_policy = doc(
        {
            "Sid": "LetIntruderScan",
            "Effect": "Allow",
            "Principal": {"AWS": INTRUDER},
            "Action": "dynamodb:Scan",
            "Resource": TABLE,
        }
    )
    details = group_details(only_decrypt)
    assert rows_for(details)[0].verdict == PASS
    judge = Judge(FACTS, REGION, key_policy(), table_policy=table_policy)
    [row] = rows_for(details, judge=judge)
    assert row.verdict == MISMATCH
    assert "dynamodb:Scan: table resource policy statement 'LetIntruderScan'; " in row.detail
