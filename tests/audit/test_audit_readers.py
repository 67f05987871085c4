"""Who can read each audited table: table policies, public ones and trusted accounts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kmsguard.audit.findings import READERS
from kmsguard.audit.judge import READERS_RULE
from kmsguard.keypolicy import KeyPolicyRoles, key_policy_json
from sandbox import SandboxInfo, running
from tests.audit.conftest import DECRYPT_ALL, PARTNER, audit, findings, make_table, table_policy

pytestmark = [pytest.mark.sandbox, pytest.mark.xdist_group("audit")]
READS = ["dynamodb:GetItem", "dynamodb:Query"]


@pytest.fixture(scope="module")
def account() -> Iterator[tuple[SandboxInfo, dict[str, str]]]:
    """A key user `reader`; `peeker`, allowed kms:Decrypt but no DynamoDB action; `inside`,
    `quiet` and `lent` on the key, `inside` with a table policy letting `peeker` read; `public` and
    `partnered` on an AWS owned key, opened to everyone and to a partner account."""
    with running() as sb:
        iam, ddb = sb.client("iam"), sb.client("dynamodb")
        a: dict[str, str] = {}
        a["reader"] = iam.create_user(UserName="reader")["User"]["Arn"]
        a["peeker"] = iam.create_user(UserName="peeker")["User"]["Arn"]
        iam.put_user_policy(
            UserName="peeker", PolicyName="decrypt", PolicyDocument=json.dumps(DECRYPT_ALL)
        )
        roles = KeyPolicyRoles(account_id=sb.account_id, region=sb.region, users=(a["reader"],))
        key = sb.client("kms").create_key(Policy=key_policy_json(roles))["KeyMetadata"]
        a["key"] = key["Arn"]
        sse = {"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": key["Arn"]}
        for name in ("inside", "quiet", "lent"):
            a[name] = make_table(sb, name, sse)
        # `borrower` may GetItem on `lent` and holds a grant on the key, nothing else.
        a["borrower"] = iam.create_user(UserName="borrower")["User"]["Arn"]
        get = {"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": a["lent"]}
        iam.put_user_policy(
            UserName="borrower",
            PolicyName="get",
            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [get]}),
        )
        sb.client("kms").create_grant(
            KeyId=key["Arn"], GranteePrincipal=a["borrower"], Operations=["Decrypt"]
        )
        owned = {"Enabled": False}
        for name in ("public", "partnered"):
            a[name] = make_table(sb, name, owned)
        for name, principal in (
            ("inside", a["peeker"]),
            ("public", "*"),
            ("partnered", f"arn:aws:iam::{PARTNER}:root"),
        ):
            doc = table_policy(principal, a[name], READS)
            ddb.put_resource_policy(ResourceArn=a[name], Policy=json.dumps(doc))
        yield sb, a


def _run(
    account: tuple[SandboxInfo, dict[str, str]], mp: pytest.MonkeyPatch, out: Path, *args: str
) -> list[dict[str, Any]]:
    sb, _ = account
    audit(sb, mp, "--json", str(out), *args)
    return findings(out)


@pytest.fixture(scope="module")
def report(account, tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    with pytest.MonkeyPatch.context() as mp:
        return _run(account, mp, tmp_path_factory.mktemp("readers") / "a.json")


def _of(found: list[dict[str, Any]], rule: str, arn: str) -> list[dict[str, Any]]:
    return [f for f in found if f["rule"] == rule and f["resource"] == arn]


def test_a_table_policy_letting_in_an_undeclared_user_is_found_with_the_witness(
    account, report
) -> None:
    _, a = account
    (proof,) = _of(report, READERS, a["inside"])
    (w,) = proof["witnesses"]
    assert w["principal"] == a["peeker"] and not w["identity_policies_assumed"]
    assert (w["read"]["action"], w["read"]["resource"]) == ("dynamodb:GetItem", a["inside"])
    # The read is the table policy's doing: the witness carries it.
    assert w["read"]["resource_policy"] == table_policy(a["peeker"], a["inside"], READS)
    assert (w["decrypt"]["action"], w["decrypt"]["resource"]) == ("kms:Decrypt", a["key"])
    (pack,) = _of(report, READERS_RULE, a["inside"])
    assert pack["level"] == "mandatory" and a["peeker"] in pack["message"]
    # Without the table policy the same user, able to decrypt, reads nothing.
    assert _of(report, READERS, a["quiet"]) == [] == _of(report, READERS_RULE, a["quiet"])


def test_a_public_table_policy_is_found_with_a_reader_of_any_account(account, report) -> None:
    _, a = account
    (proof,) = _of(report, READERS, a["public"])
    sb, _ = account
    outsiders = [w for w in proof["witnesses"] if f":{sb.account_id}:" not in w["principal"]]
    assert outsiders and all(w["read"]["resource"] == a["public"] for w in outsiders)
    assert all(w["decrypt"] is None for w in proof["witnesses"])  # an AWS owned key
    pack = _of(report, READERS_RULE, a["public"])
    assert pack and all(f["level"] == "mandatory" for f in pack)
    assert any("outside the account" in f["message"] for f in pack)


def test_a_trusted_account_is_a_declared_reader_for_the_proof_as_for_the_pack(
    account, report, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, a = account
    (proof,) = _of(report, READERS, a["partnered"])
    assert {w["principal"].split(":")[4] for w in proof["witnesses"]} == {PARTNER}
    assert _of(report, READERS_RULE, a["partnered"])
    config = tmp_path / "trust.json"
    config.write_text(json.dumps({READERS_RULE: {"trustedAccounts": [PARTNER]}}))
    found = _run(account, monkeypatch, tmp_path / "a.json", "--policy-config", str(config))
    assert _of(found, READERS, a["partnered"]) == [] == _of(found, READERS_RULE, a["partnered"])
    assert _of(found, READERS, a["inside"])  # the others are still judged


def test_a_disabled_readers_rule_skips_the_proof_and_says_why(
    account, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "off.json"
    config.write_text(json.dumps({READERS_RULE: "disabled"}))
    out = tmp_path / "a.json"
    _run(account, monkeypatch, out, "--policy-config", str(config))
    assert [f for f in findings(out) if f["rule"] in (READERS, READERS_RULE)] == []
    skipped = {s["rule"]: s["reason"] for s in json.loads(out.read_text())["skipped"]}
    assert READERS_RULE in skipped[READERS]


def test_a_grant_on_the_key_with_an_identity_read_makes_an_undeclared_reader(
    account, report
) -> None:
    _, a = account
    (proof,) = _of(report, READERS, a["lent"])
    (w,) = proof["witnesses"]
    assert w["principal"] == a["borrower"]
    assert (w["read"]["action"], w["read"]["resource"]) == ("dynamodb:GetItem", a["lent"])
    assert w["decrypt"]["grants"] and w["decrypt"]["resource"] == a["key"]
    (pack,) = _of(report, READERS_RULE, a["lent"])
    assert a["borrower"] in pack["message"]
