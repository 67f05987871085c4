"""The key policy builder: statements, order, conditions and determinism per option."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from kmsguard.contract import KEY_ADMIN_ACTIONS, KEY_GRANT_ACTIONS, KEY_USER_ACTIONS, Sid
from kmsguard.keypolicy import KeyPolicyRoles, build_key_policy, key_policy_json, statements_by_sid

ACCT = "111122223333"
ADMIN = f"arn:aws:iam::{ACCT}:role/admin"
ALICE = f"arn:aws:iam::{ACCT}:user/alice"
BOB = f"arn:aws:iam::{ACCT}:user/bob"


def roles(**kw: object) -> KeyPolicyRoles:
    base: dict[str, object] = {"account_id": ACCT, "region": "eu-west-1", "administrators": [ADMIN]}
    base.update(kw)
    return KeyPolicyRoles(**base)  # type: ignore[arg-type]


def test_default_has_root_and_admins_only_without_users() -> None:
    doc = build_key_policy(roles())
    assert [s["Sid"] for s in doc["Statement"]] == [Sid.ROOT, Sid.ADMINS]
    root = doc["Statement"][0]
    assert root["Principal"] == {"AWS": f"arn:aws:iam::{ACCT}:root"}
    assert root["Action"] == "kms:*" and root["Resource"] == "*"
    assert doc["Version"] == "2012-10-17"


def test_admins_get_admin_actions_and_no_cryptographic_action() -> None:
    admins = statements_by_sid(build_key_policy(roles()))[Sid.ADMINS]
    assert admins["Action"] == list(KEY_ADMIN_ACTIONS)
    crypto = {"kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:GenerateDataKey"}
    assert not crypto & set(admins["Action"])
    assert "kms:*" not in admins["Action"]


def test_admins_cannot_create_grants_and_so_cannot_grant_themselves_decrypt() -> None:
    from kmsguard.access import expand_actions

    admins = statements_by_sid(build_key_policy(roles()))[Sid.ADMINS]
    covered = {a for pattern in admins["Action"] for a in expand_actions(pattern)}
    assert "kms:CreateGrant" not in covered
    assert {"kms:PutKeyPolicy", "kms:ScheduleKeyDeletion", "kms:CreateAlias"} <= covered


def test_users_restricted_to_dynamodb_in_region_and_account() -> None:
    doc = statements_by_sid(build_key_policy(roles(users=[ALICE])))
    users = doc[Sid.USERS]
    assert users["Action"] == list(KEY_USER_ACTIONS)
    assert users["Principal"] == {"AWS": ALICE}
    assert users["Condition"] == {
        "StringEquals": {
            "kms:ViaService": "dynamodb.eu-west-1.amazonaws.com",
            "kms:CallerAccount": ACCT,
        }
    }
    grants = doc[Sid.GRANTS]
    assert grants["Action"] == list(KEY_GRANT_ACTIONS)
    assert grants["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": "true"}}


def test_unrestricted_users_have_no_condition_and_their_own_sid() -> None:
    doc = statements_by_sid(build_key_policy(roles(users=[ALICE], restrict_to_dynamodb=False)))
    assert Sid.USERS not in doc
    assert "Condition" not in doc[Sid.USERS_UNRESTRICTED]


def test_root_delegation_off_leaves_no_root_statement() -> None:
    doc = build_key_policy(roles(enable_root_delegation=False, users=[ALICE]))
    assert [s["Sid"] for s in doc["Statement"]] == [Sid.ADMINS, Sid.USERS, Sid.GRANTS]
    assert "root" not in json.dumps(doc)


def test_principals_sorted_and_deduplicated() -> None:
    doc = statements_by_sid(build_key_policy(roles(users=[BOB, ALICE, BOB])))
    assert doc[Sid.USERS]["Principal"] == {"AWS": [ALICE, BOB]}


@given(st.permutations([ALICE, BOB, f"arn:aws:iam::{ACCT}:role/r"]))
def test_document_does_not_depend_on_input_order(users: list[str]) -> None:
    assert key_policy_json(roles(users=users)) == key_policy_json(roles(users=sorted(users)))


def test_statements_by_sid_names_unnamed_statements_by_index() -> None:
    doc = {"Statement": {"Effect": "Allow"}}
    assert list(statements_by_sid(doc)) == ["#0"]
