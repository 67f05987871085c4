"""Names shared across packages are written once, in kmsguard/contract.py, and imported."""

from __future__ import annotations

import re
from pathlib import Path

from kmsguard import contract

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("kmsguard", "policies", "sandbox", "verification", "demo", "provider")

# Spelled like a config key or an output, but another thing: a property of AWS's resources or
# the Pulumi provider (keyId, region, pointInTimeRecovery), a rule setting (accountId).
HOMONYMS = frozenset({"keyId", "region", "accountId", "pointInTimeRecovery"})


def shared_names() -> dict[str, str]:
    names = {contract.COMPONENT_TYPE: "COMPONENT_TYPE"}
    names[contract.DYNAMODB_FULL_ACCESS_POLICY_ARN] = "DYNAMODB_FULL_ACCESS_POLICY_ARN"
    for cls in (contract.ConfigKey, contract.Output, contract.Sid, contract.AwsType):
        for attr, value in vars(cls).items():
            if not attr.startswith("_") and isinstance(value, str) and value not in HOMONYMS:
                names[value] = f"{cls.__name__}.{attr}"
    return names


def retyped(text: str, names: dict[str, str]) -> list[str]:
    """Each quoted string literal of `text` that is exactly a shared name."""
    return [
        f"{m.group(2)} ({names[m.group(2)]})"
        for m in re.finditer(r"([\"'])([^\"'\n]+)\1", text)
        if m.group(2) in names
    ]


def _component_arguments(text: str) -> str:
    # The component's argument TypedDict literal: mypy checks each key against the declared
    # arguments, which tests/component checks against CONFIG_KEYS.
    start = text.index("    args: KmsProtectedTableArgs = {")
    return text[:start] + text[text.index("    }\n", start) :]


def test_no_product_module_retypes_a_shared_name() -> None:
    names = shared_names()
    found = {}
    for package in PRODUCT:
        for path in sorted((ROOT / package).rglob("*.py")):
            if path.name == "contract.py" or "venv" in path.parts:
                continue
            text = path.read_text(encoding="utf-8")
            if path == ROOT / "kmsguard" / "component.py":
                text = _component_arguments(text)
            if hits := retyped(text, names):
                found[str(path.relative_to(ROOT))] = hits
    assert found == {}, "import the name from kmsguard/contract.py"


def test_the_scan_sees_a_retyped_name() -> None:
    names = shared_names()
    assert retyped("x = {'AllowKeyUseViaDynamoDB': 1, \"tableArn\": 2}", names) == [
        "AllowKeyUseViaDynamoDB (Sid.USERS)",
        "tableArn (Output.TABLE_ARN)",
    ]
    assert retyped('msg = "no aws:kms/key:Key here"', names) == []
