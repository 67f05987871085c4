"""The key-access proof decides the account's own principals with the context DynamoDB presents."""

from __future__ import annotations

import json

from kmsguard.audit.inventory import KeyData, TableData
from kmsguard.audit.proofs import Principals, key_access
from kmsguard.org_policies import OrgPolicies

ACCOUNT = "111122223333"
KEY = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
TABLE = f"arn:aws:dynamodb:eu-west-1:{ACCOUNT}:table/orders"
USER = f"arn:aws:iam::{ACCOUNT}:user/analyst"


def _key(condition: dict[str, dict[str, str]]) -> KeyData:
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Through DynamoDB for the account's principals",
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": "kms:Decrypt",
                "Resource": "*",
                "Condition": condition,
            }
        ],
    }
    return KeyData("eu-west-1", {"Arn": KEY}, json.dumps(policy))


def _principals() -> Principals:
    decrypt = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"}],
    }
    user = {
        "UserName": "analyst",
        "Arn": USER,
        "UserPolicyList": [{"PolicyName": "decrypt", "PolicyDocument": decrypt}],
    }
    return Principals({"UserDetailList": [user], "GroupDetailList": [], "RoleDetailList": []})


def _witnesses(key: KeyData) -> list[dict[str, object]]:
    table = TableData("eu-west-1", "orders", TABLE, {})
    finding = key_access(table, key, _principals(), OrgPolicies(), 10.0)
    found = [w for r in finding.found for w in r.finding.witness["witnesses"]] if finding else []
    return [w for w in found if w.get("principal") == USER]


def test_a_key_open_to_the_account_through_dynamodb_is_read_by_its_principals() -> None:
    # The AWS managed key's policy names the caller's account and the service: a decrypt
    # through DynamoDB carries both, so the account's principal with kms:Decrypt reads.
    key = _key(
        {
            "StringEquals": {
                "kms:CallerAccount": ACCOUNT,
                "kms:ViaService": "dynamodb.eu-west-1.amazonaws.com",
            }
        }
    )
    [witness] = _witnesses(key)
    context = witness["context"]
    assert isinstance(context, dict)
    assert context["kms:CallerAccount"] == ACCOUNT
    assert context["kms:EncryptionContext:aws:dynamodb:tableName"] == "orders"


def test_a_key_bound_to_the_tables_encryption_context_is_read_through_the_table() -> None:
    key = _key({"StringEquals": {"kms:EncryptionContext:aws:dynamodb:tableName": "orders"}})
    assert [w["principal"] for w in _witnesses(key)] == [USER]
    elsewhere = _key({"StringEquals": {"kms:EncryptionContext:aws:dynamodb:tableName": "other"}})
    assert _witnesses(elsewhere) == []


def test_principals_read_groups_managed_policies_and_note_what_the_listing_lacks() -> None:
    aws = "arn:aws:iam::aws:policy/DecryptEverything"
    missing = f"arn:aws:iam::{ACCOUNT}:policy/gone"
    decrypt = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"}],
    }
    details = {
        "UserDetailList": [
            {
                "Arn": USER,
                "GroupList": ["readers"],
                "PermissionsBoundary": {"PermissionsBoundaryArn": missing},
            }
        ],
        "GroupDetailList": [
            {"GroupName": "readers", "AttachedManagedPolicies": [{"PolicyArn": aws}]}
        ],
        "RoleDetailList": [],
    }
    principals = Principals(details, {aws: decrypt})
    assert [len(p.statements) for p in principals.policies[USER]] == [1]
    assert USER not in principals.boundaries
    assert principals.problems == [
        f"{USER}: permissions boundary {missing}: managed policy {missing} is not in the listing"
    ]
