"""A key policy's key users: the one reading behind the pack's and the audit's declared readers."""

from __future__ import annotations

from kmsguard.access import parse_policy
from kmsguard.access.key_users import declared_readers, key_users

ROOT = "arn:aws:iam::111122223333:root"
USER = "arn:aws:iam::111122223333:user/reader"
ADMIN = "arn:aws:iam::111122223333:role/admin"


def _users(*statements: dict) -> list[str]:
    doc = {"Version": "2012-10-17", "Statement": list(statements)}
    return key_users(parse_policy(doc, kind="resource").statements)


def _st(principal: object, action: object, effect: str = "Allow", key: str = "Principal") -> dict:
    return {"Effect": effect, key: principal, "Action": action, "Resource": "*"}


def test_only_principals_allowed_kms_decrypt_itself_are_key_users() -> None:
    assert _users(
        _st({"AWS": ROOT}, "kms:*"),
        _st({"AWS": ADMIN}, ["kms:Describe*", "kms:Put*"]),
        _st({"AWS": USER}, "KMS:decrypt"),
    ) == [USER]


def test_everyone_roots_account_ids_denies_and_not_principal_declare_nobody() -> None:
    assert (
        _users(
            _st("*", "kms:Decrypt"),
            _st({"AWS": "444455556666"}, "kms:Decrypt"),
            _st({"AWS": "arn:aws:iam::444455556666:root"}, "kms:Decrypt"),
            _st({"AWS": ADMIN}, "kms:Decrypt", effect="Deny"),
            _st({"AWS": ADMIN}, "kms:Decrypt", key="NotPrincipal"),
        )
        == []
    )


def test_the_declared_readers_are_the_key_users_the_extra_ones_and_the_root() -> None:
    assert declared_readers([USER], [ADMIN], ROOT) == [USER, ADMIN, ROOT]
