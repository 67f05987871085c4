"""`--policy-config` in Pulumi's format, validated as JSON schema against the pack's schemas."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kmsguard.preview import policy_config
from kmsguard.preview.__main__ import main as preview_main

DENIED = ["--phase", "denied", "--preview"]
# The program rotates yearly: a 90-day maximum is one mandatory violation to configure away.
STRICT = {"maxRotationPeriodDays": 90}
ROTATION = "kms-key-rotation-enabled"


def _write(tmp_path: Path, data: object) -> str:
    path = tmp_path / "policy.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return str(path)


@pytest.mark.parametrize(
    ("config", "code"),
    [
        ({ROTATION: STRICT}, 1),
        ({"all": {"enforcementLevel": "advisory"}, ROTATION: STRICT}, 0),  # the reported form
        ({"all": "advisory", ROTATION: STRICT}, 0),
        ({ROTATION: {"enforcementLevel": "advisory", **STRICT}}, 0),
        ({"all": "advisory", ROTATION: {"enforcementLevel": "mandatory", **STRICT}}, 1),
        ({ROTATION: {"enforcementLevel": "disabled", **STRICT}}, 0),
    ],
)
def test_pulumis_forms_set_the_level(tmp_path, capsys, config, code) -> None:
    assert preview_main([*DENIED, "--policy-config", _write(tmp_path, config)]) == code
    out = capsys.readouterr().out
    if config[ROTATION].get("enforcementLevel") != "disabled":
        assert "rotation period is 365 days, above the maximum of 90" in out


def test_the_string_shorthand_is_a_level(tmp_path, capsys) -> None:
    # {"kms-key-rotation-enabled": "mandatory"}, the reported shorthand, next to "all".
    path = _write(tmp_path, {"all": "disabled", "dynamodb-table-deletion-protection": "advisory"})
    assert preview_main([*DENIED, "--policy-config", path]) == 0
    out = capsys.readouterr().out
    assert "[dynamodb-table-deletion-protection]" in out
    assert out.count("[advisory]") == 1 and "[mandatory]" not in out


def test_an_empty_file_is_no_configuration_as_for_the_cli(tmp_path, capsys) -> None:
    assert preview_main([*DENIED, "--policy-config", _write(tmp_path, "  \n")]) == 0


@pytest.mark.parametrize(
    ("config", "words"),
    [
        (
            {"kms-key-policy-no-public-principal": {"trustedAccounts": ["12345"]}},
            'trustedAccounts[0] = "12345": must match ^[0-9]{12}$',
        ),
        # Python's `$` matches before a final newline; the length bound does not let it by.
        (
            {"kms-key-policy-no-public-principal": {"trustedAccounts": ["123456789012\n"]}},
            'trustedAccounts[0] = "123456789012\\n": must match ^[0-9]{12}$',
        ),
        (
            {"dynamodb-table-readers-match-declared": {"trustedOrganizations": ["o-abcdefghij\n"]}},
            'trustedOrganizations[0] = "o-abcdefghij\\n": must match ^o-[a-z0-9]{10,32}$',
        ),
        (
            {"kms-key-policy-no-public-principal": {"proverTimeoutSeconds": 0}},
            "proverTimeoutSeconds = 0: must be at least 0.1",
        ),
        (
            {"kms-key-policy-no-public-principal": {"proverTimeoutSeconds": "10"}},
            'proverTimeoutSeconds = "10": must be a number',
        ),
        (
            {"kms-key-policy-least-privilege": {"allowedKeyUsers": ["a", 3]}},
            "allowedKeyUsers[1] = 3: must be a string",
        ),
        ({"kms-key-rotation-enabled": 7}, "must be an enforcement level"),
        ({"kms-key-rotation-enabled": "loud"}, '"loud": allowed: advisory, disabled'),
        ({"all": {"maxRotationPeriodDays": 90}}, "all takes only enforcementLevel"),
        ({"all": {"enforcementLevel": 1}}, "all.enforcementLevel = 1: allowed: advisory"),
    ],
)
def test_settings_are_checked_as_json_schema(tmp_path, capsys, config, words) -> None:
    assert preview_main([*DENIED, "--policy-config", _write(tmp_path, config)]) == 2
    err = capsys.readouterr().err
    assert words in err and len(err.strip().splitlines()) == 1, err


def test_object_items_are_accepted_where_the_schema_wants_objects() -> None:
    scp = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*"}]}
    data = {"stack-key-access-matches-declared": {"serviceControlPolicies": [scp]}}
    assert policy_config.problems(data) == []


def test_a_required_setting_of_another_pack_is_enforced() -> None:
    schemas = {"p": {"limit": {"type": "integer"}}}
    assert policy_config.problems({"p": "mandatory"}, schemas, {"p": ["limit"]}) == [
        "p: 'limit' is a required property"
    ]
    assert policy_config.problems({"p": {"limit": 3}}, schemas, {"p": ["limit"]}) == []


def test_a_long_bad_value_is_quoted_briefly() -> None:
    found = policy_config.problems({"kms-key-rotation-enabled": {"enforcementLevel": "x" * 5000}})
    assert len(found) == 1 and len(found[0]) < 200


def test_all_then_own_entries_normalize_per_policy() -> None:
    data = {"all": {"enforcementLevel": "advisory"}, "b": {"enforcementLevel": "mandatory", "n": 1}}
    assert policy_config.normalize(data, ["a", "b"]) == {
        "a": {"enforcementLevel": "advisory"},
        "b": {"enforcementLevel": "mandatory", "n": 1},
    }
