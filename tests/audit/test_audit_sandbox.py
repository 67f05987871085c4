"""The audit over tables, keys and IAM made outside any stack: the pack's verdicts, by ARN."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from kmsguard.audit.judge import READERS_RULE
from kmsguard.keypolicy import KeyPolicyRoles, key_policy_json
from tests.audit.conftest import Seeded, audit, findings, make_table, pairs

pytestmark = [pytest.mark.sandbox, pytest.mark.xdist_group("audit")]


@pytest.fixture(scope="module")
def report(seeded: Seeded, tmp_path_factory: pytest.TempPathFactory) -> tuple[int, Path]:
    out = tmp_path_factory.mktemp("audit")
    with pytest.MonkeyPatch.context() as mp:
        code = audit(
            seeded.sb,
            mp,
            "--json",
            str(out / "a.json"),
            "--sarif",
            str(out / "a.sarif"),
            "--junit-xml",
            str(out / "a.xml"),
        )
    return code, out


def test_non_compliant_resources_are_found_by_their_arns(seeded: Seeded, report) -> None:
    code, out = report
    a = seeded.arns
    found = pairs(findings(out / "a.json"))
    assert code == 1
    assert ("dynamodb-table-customer-managed-key", a["managed"]) in found
    assert ("dynamodb-table-customer-managed-key", a["owned"]) in found
    assert ("kms-key-rotation-enabled", a["stale-key"]) in found
    assert ("iam-policy-no-kms-decrypt-on-all-keys", a["wide"]) in found
    assert ("stack-key-access-matches-declared", a["wide"]) in found


def test_each_finding_carries_its_code_and_witness(seeded: Seeded, report) -> None:
    _, out = report
    every = findings(out / "a.json")
    # Every diagnostic of the kmsguard pack came with its record, and so did the audit's own.
    assert [f for f in every if not (f["code"] or f.get("findings"))] == []
    rotation = next(
        f
        for f in every
        if f["rule"] == "kms-key-rotation-enabled" and f["resource"] == seeded.arns["stale-key"]
    )
    assert rotation["code"] == "rotation-disabled" and isinstance(rotation["witness"], dict)
    proof = next(f for f in every if f["rule"] == "table-readers")
    assert proof["code"] == "undeclared-readers"
    assert proof["witness"]["witnesses"] == proof["witnesses"]


def test_compliant_resources_have_no_mandatory_finding(seeded: Seeded, report) -> None:
    _, out = report
    a = seeded.arns
    mandatory = {
        (f["rule"], f["resource"]) for f in findings(out / "a.json") if f["level"] == "mandatory"
    }
    for name in ("good-key", "reader"):
        assert not [p for p in mandatory if p[1] == a[name]], name
    # The table itself is as it should be; only the user holding AdministratorAccess, who
    # reads every table of the account, is a reader nobody declared.
    mine = [f for f in findings(out / "a.json") if f["resource"] == a["good"]]
    assert {f["rule"] for f in mine} == {READERS_RULE, "table-key-access", "table-readers"}
    pack = next(f for f in mine if f["rule"] == READERS_RULE)
    assert a["admin"] in pack["message"]
    assert a["reader"] not in pack["message"] and a["wide"] not in pack["message"]


def test_the_key_access_proof_names_who_beyond_the_key_users_can_read_a_table(
    seeded: Seeded, report
) -> None:
    _, out = report
    proof = [
        f
        for f in findings(out / "a.json")
        if f["rule"] == "table-key-access" and f["resource"] == seeded.arns["good"]
    ]
    assert len(proof) == 1
    witnesses = {w["principal"] for w in proof[0]["witnesses"]}
    assert witnesses == {seeded.arns["wide"], seeded.arns["admin"]}


def test_the_readers_proof_gives_the_read_and_the_decrypt_of_each_undeclared_reader(
    seeded: Seeded, report
) -> None:
    _, out = report
    a = seeded.arns
    proof = next(
        f
        for f in findings(out / "a.json")
        if f["rule"] == "table-readers" and f["resource"] == a["good"]
    )
    assert proof["level"] == "advisory"
    # `wide` may decrypt but reads nothing; `reader` is the key user, a declared reader.
    assert [w["principal"] for w in proof["witnesses"]] == [a["admin"]]
    w = proof["witnesses"][0]
    assert (w["read"]["action"], w["read"]["resource"]) == ("dynamodb:GetItem", a["good"])
    assert (w["decrypt"]["action"], w["decrypt"]["resource"]) == ("kms:Decrypt", a["good-key"])
    assert w["decrypt"]["context"]["kms:ViaService"] == "dynamodb.us-east-1.amazonaws.com"


def test_a_stream_policy_is_read_and_its_reader_found(seeded: Seeded, report) -> None:
    _, out = report
    a = seeded.arns
    mine = [f for f in findings(out / "a.json") if f["resource"] == a["streamed"]]
    pack = [f for f in mine if f["rule"] == READERS_RULE]
    assert pack and all(f["level"] == "mandatory" for f in pack)
    assert any(a["partner"] in f["message"] and a["stream"] in f["message"] for f in pack)
    proof = next(f for f in mine if f["rule"] == "table-readers")
    partner = next(w for w in proof["witnesses"] if w["principal"] == a["partner"])
    assert partner["read"]["resource"] == a["stream"]
    assert partner["read"]["action"] == "dynamodb:GetRecords"
    assert partner["identity_policies_assumed"] and partner["decrypt"] is None


def test_plan_only_rules_are_reported_skipped(report) -> None:
    _, out = report
    skipped = {s["rule"]: s["reason"] for s in json.loads((out / "a.json").read_text())["skipped"]}
    assert set(skipped) == {"kms-key-policy-no-new-access", "kms-key-deletion-window"}
    assert "deletion is scheduled" in skipped["kms-key-deletion-window"]


def test_sarif_names_each_finding_by_its_resource_arn(seeded: Seeded, report) -> None:
    _, out = report
    log = json.loads((out / "a.sarif").read_text())
    results = log["runs"][0]["results"]
    located = {
        (r["ruleId"], r["locations"][0]["logicalLocations"][0]["fullyQualifiedName"])
        for r in results
    }
    assert located == pairs(findings(out / "a.json"))
    rotation = next(r for r in results if r["ruleId"] == "kms-key-rotation-enabled")
    assert rotation["level"] == "error"
    assert rotation["properties"]["code"] == "rotation-disabled"
    assert all(r["partialFingerprints"]["kmsguardFinding/v1"] for r in results)


def test_junit_fails_one_case_per_mandatory_finding(report) -> None:
    _, out = report
    root = ET.fromstring((out / "a.xml").read_text())
    failed = {
        (suite.get("name"), case.get("name"))
        for suite in root
        for case in suite
        if case.find("failure") is not None
    }
    mandatory = {
        (f["rule"], f["resource"]) for f in findings(out / "a.json") if f["level"] == "mandatory"
    }
    assert failed == mandatory
    skipped = [s.get("name") for s in root if s.get("skipped") == "1"]
    assert "kms-key-deletion-window" in skipped


def test_include_and_exclude_select_tables_and_keys(
    seeded: Seeded, tmp_path: Path, monkeypatch
) -> None:
    out = tmp_path / "a.json"
    code = audit(
        seeded.sb, monkeypatch, "--include", "good", "--exclude", "stale", "--json", str(out)
    )
    resources = {f["resource"] for f in findings(out)}
    a = seeded.arns
    assert a["managed"] not in resources and a["owned"] not in resources
    assert a["stale-key"] not in resources
    data = json.loads(out.read_text())
    assert data["resources"]["tables"] == 1
    # Only the included table is described (the listing itself names them all).
    assert data["calls"]["dynamodb:DescribeTable"] == 1
    assert code == 1  # the user allowed kms:Decrypt everywhere is still judged (IAM is global)


def test_every_region_given_is_audited_with_its_own_arns(
    seeded: Seeded, tmp_path: Path, monkeypatch
) -> None:
    sb = seeded.sb
    eu = sb.session().client("dynamodb", region_name="eu-west-1", endpoint_url=sb.endpoint_url)
    eu.create_table(
        TableName="eu-orders",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    out = tmp_path / "a.json"
    args = (
        "--region",
        sb.region,
        "--region",
        "eu-west-1",
        "--include",
        "*orders",
        "--json",
        str(out),
    )
    audit(sb, monkeypatch, *args)
    data = json.loads(out.read_text())
    assert data["regions"] == [sb.region, "eu-west-1"]
    eu_arn = f"arn:aws:dynamodb:eu-west-1:{sb.account_id}:table/eu-orders"
    assert ("dynamodb-table-customer-managed-key", eu_arn) in pairs(findings(out))
    # IAM is judged once for the account, not once per region.
    wide = [
        f
        for f in findings(out)
        if f["rule"] == "iam-policy-no-kms-decrypt-on-all-keys"
        and f["resource"] == seeded.arns["wide"]
    ]
    assert len(wide) == 1


def test_the_prover_names_principals_of_another_account_the_key_trusts(
    seeded: Seeded, tmp_path: Path, monkeypatch
) -> None:
    sb = seeded.sb
    other = "444455556666"
    roles = KeyPolicyRoles(account_id=sb.account_id, region=sb.region, users=())
    policy = json.loads(key_policy_json(roles))
    policy["Statement"].append(
        {
            "Sid": "Partner",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{other}:root"},
            "Action": "kms:Decrypt",
            "Resource": "*",
        }
    )
    key = sb.client("kms").create_key(Policy=json.dumps(policy))["KeyMetadata"]
    sse = {"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": key["Arn"]}
    arn = make_table(sb, "shared", sse)
    out = tmp_path / "a.json"
    audit(sb, monkeypatch, "--include", "shared", "--json", str(out))
    proof = next(
        f for f in findings(out) if f["rule"] == "table-key-access" and f["resource"] == arn
    )
    outsiders = [
        w for w in proof["witnesses"] if w["principal"].startswith(f"arn:aws:iam::{other}:")
    ]
    assert outsiders and all(w["identity_policies_assumed"] for w in outsiders)
    assert "if its own IAM policies allow it" in proof["message"]
