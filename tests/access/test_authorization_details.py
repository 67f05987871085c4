"""The account's subjects read from GetAccountAuthorizationDetails (verifier and audit)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from kmsguard.access.authorization_details import policy_document, referenced_policies, subjects
from kmsguard.access.subject import PolicySource
from tests.access.docs import row

ACCT = "111122223333"
USER = f"arn:aws:iam::{ACCT}:user/analyst"
ROLE = f"arn:aws:iam::{ACCT}:role/reader"
GROUP = f"arn:aws:iam::{ACCT}:group/readers"
SCAN = f"arn:aws:iam::{ACCT}:policy/scan"
CAP = f"arn:aws:iam::{ACCT}:policy/cap"
AWS_READ = "arn:aws:iam::aws:policy/AmazonDynamoDBReadOnlyAccess"


def _allow(action: str) -> dict[str, Any]:
    statement = {"Effect": "Allow", "Action": action, "Resource": "*"}
    return {"Version": "2012-10-17", "Statement": [statement]}


def _managed(arn: str, doc: dict[str, Any]) -> dict[str, Any]:
    versions = [
        {"VersionId": "v1", "IsDefaultVersion": False, "Document": _allow("nothing:Old")},
        {"VersionId": "v2", "IsDefaultVersion": True, "Document": doc},
    ]
    return {"Arn": arn, "PolicyVersionList": versions}


def _details() -> dict[str, Any]:
    return {
        "UserDetailList": [
            {
                "Arn": USER,
                "UserPolicyList": [{"PolicyName": "own", "PolicyDocument": _allow("kms:Decrypt")}],
                "AttachedManagedPolicies": [{"PolicyArn": SCAN}],
                "GroupList": ["readers", "no-such-group"],
                "PermissionsBoundary": {"PermissionsBoundaryArn": CAP},
            }
        ],
        "GroupDetailList": [
            {
                "GroupName": "readers",
                "Arn": GROUP,
                "GroupPolicyList": [
                    {"PolicyName": "g", "PolicyDocument": _allow("dynamodb:Query")}
                ],
                "AttachedManagedPolicies": [{"PolicyArn": AWS_READ}],
            },
            {"GroupName": "empty", "AttachedManagedPolicies": [{"PolicyArn": "arn:x"}]},
        ],
        "RoleDetailList": [
            {
                "Arn": ROLE,
                # The API's own form: URL-encoded JSON text.
                "AssumeRolePolicyDocument": quote(json.dumps(_allow("sts:AssumeRole"))),
                "RolePolicyList": [
                    {"PolicyName": "r", "PolicyDocument": json.dumps(_allow("dynamodb:Scan"))}
                ],
            }
        ],
        "Policies": [_managed(SCAN, _allow("dynamodb:Scan")), _managed(CAP, _allow("dynamodb:*"))],
    }


def test_a_user_is_its_own_then_its_groups_policies_each_named_by_where_it_comes_from() -> None:
    asked: list[str] = []

    def fetch(arn: str) -> Any:
        asked.append(arn)
        return _allow("dynamodb:GetItem") if arn == AWS_READ else None

    user, role = subjects(_details(), fetch)
    assert (user.arn, user.kind, user.groups) == (USER, "user", (GROUP,))
    assert user.identity_policies == (
        PolicySource("inline policy own", _allow("kms:Decrypt")),
        PolicySource(f"managed policy {SCAN}", _allow("dynamodb:Scan")),
        PolicySource("inline policy g of group readers", _allow("dynamodb:Query")),
        PolicySource(f"managed policy {AWS_READ} of group readers", _allow("dynamodb:GetItem")),
    )
    assert user.boundary == PolicySource(f"permissions boundary {CAP}", _allow("dynamodb:*"))
    # Asked only for what a subject uses, and once: not the memberless group's policy.
    assert asked == [AWS_READ]
    assert (role.arn, role.kind) == (ROLE, "role")
    assert role.trust == PolicySource("trust policy", _allow("sts:AssumeRole"))
    assert role.identity_policies == (PolicySource("inline policy r", _allow("dynamodb:Scan")),)


def test_a_managed_policy_found_nowhere_is_unknown_never_no_policy() -> None:
    row("iam-listing-documents")
    user, _ = subjects(_details())
    [gap] = [s for s in user.identity_policies if not s.known]
    assert gap.origin == f"managed policy {AWS_READ} of group readers"
    assert gap.problem == f"managed policy {AWS_READ} is not in the listing"
    assert not user.fully_known


def test_referenced_policies_are_every_attachment_and_boundary_once() -> None:
    assert referenced_policies(_details()) == [SCAN, CAP, AWS_READ, "arn:x"]


def test_documents_are_read_in_every_form_iam_hands_them_over() -> None:
    row("iam-listing-documents")
    doc = _allow("kms:Decrypt")
    assert policy_document(doc) == doc
    assert policy_document(json.dumps(doc)) == doc
    assert policy_document(quote(json.dumps(doc))) == doc
    # Not JSON: kept as written, for the evaluator to refuse with its own message.
    assert policy_document("%7Bnot json") == "%7Bnot json"
    assert policy_document("[" * 100_000) == "[" * 100_000


def test_a_malformed_listing_yields_what_it_can_never_a_traceback() -> None:
    details: dict[str, Any] = {
        "UserDetailList": [
            "not an entity",
            {"UserName": "no-arn"},
            {"Arn": USER, "GroupList": [["unhashable"], None], "UserPolicyList": ["x", {}]},
        ],
        "GroupDetailList": [{"GroupName": ["unhashable"]}, 7],
        "RoleDetailList": {"not": "a list"},
        "Policies": [{"Arn": SCAN, "PolicyVersionList": "nope"}],
    }
    [user] = subjects(details)
    assert user.arn == USER
    [gap] = user.identity_policies
    assert (gap.origin, gap.known, gap.problem) == (
        "inline policy None",
        False,
        "inline policy None has no document",
    )
    assert subjects({}) == []


def test_the_listings_pages_merge_into_one_and_each_page_is_counted() -> None:
    from kmsguard.access.authorization_details import DETAIL_LISTS, merge_pages

    pages = [
        {"UserDetailList": [{"UserName": "a"}], "IsTruncated": True, "Marker": "m"},
        {"RoleDetailList": [{"RoleName": "r"}], "UserDetailList": [{"UserName": "b"}]},
        {},
    ]
    seen: list[int] = []
    merged = merge_pages(pages, lambda: seen.append(1))
    assert sorted(merged) == sorted(DETAIL_LISTS)
    assert [u["UserName"] for u in merged["UserDetailList"]] == ["a", "b"]
    assert merged["RoleDetailList"] == [{"RoleName": "r"}] and merged["Policies"] == []
    assert len(seen) == 3
