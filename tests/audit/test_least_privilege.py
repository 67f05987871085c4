"""The documented read-only policy is enough; a refused read is named, and the rest judged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kmsguard.audit.permissions import ACTIONS, read_only_policy, read_only_policy_json
from tests.access.docs import row
from tests.audit.conftest import Seeded, audit, findings

pytestmark = [pytest.mark.sandbox, pytest.mark.xdist_group("audit")]
ROOT = Path(__file__).resolve().parents[2]


def _auditor(seeded: Seeded, name: str, policy: dict) -> tuple[str, str]:
    iam = seeded.sb.client("iam")
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="audit", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return key["AccessKeyId"], key["SecretAccessKey"]


def test_the_read_only_policy_reads_everything(seeded: Seeded, tmp_path: Path, monkeypatch) -> None:
    creds = _auditor(seeded, "auditor", read_only_policy())
    out = tmp_path / "a.json"
    code = audit(seeded.sb, monkeypatch, "--json", str(out), creds=creds)
    assert [f for f in findings(out) if f["level"] == "unreadable"] == []
    assert code == 1  # the seeded account's mandatory findings, all of them readable
    rules = {f["rule"] for f in findings(out)}
    assert "kms-key-rotation-enabled" in rules
    # GetResourcePolicy on every table and on the one stream, whose reader is then found.
    data = json.loads(out.read_text())
    assert data["calls"]["dynamodb:GetResourcePolicy"] == data["resources"]["tables"] + 1
    a = seeded.arns
    assert any(
        f["rule"] == "table-readers"
        and f["resource"] == a["streamed"]
        and a["partner"] in f["message"]
        for f in findings(out)
    )


def test_a_refused_read_is_named_with_its_action_and_the_rest_is_judged(
    seeded: Seeded, tmp_path: Path, monkeypatch
) -> None:
    policy = read_only_policy()
    policy["Statement"].append(
        {"Effect": "Deny", "Action": "kms:GetKeyPolicy", "Resource": seeded.arns["stale-key"]}
    )
    creds = _auditor(seeded, "half-auditor", policy)
    out = tmp_path / "a.json"
    code = audit(seeded.sb, monkeypatch, "--json", str(out), creds=creds)
    unreadable = [f for f in findings(out) if f["level"] == "unreadable"]
    assert [(f["resource"], f["message"].split(" ")[0]) for f in unreadable] == [
        (seeded.arns["stale-key"], "kms:GetKeyPolicy")
    ]
    row("audit-exit-precedence")  # mandatory findings win over unreadable resources
    assert code == 1
    rules = {(f["rule"], f["resource"]) for f in findings(out)}
    assert ("kms-key-rotation-enabled", seeded.arns["stale-key"]) in rules
    # The unread key policy is unknown to the pack, not taken for AWS's default policy.
    assert ("kms-key-policy-declared", seeded.arns["stale-key"]) not in rules


def test_unreadable_alone_exits_3(seeded: Seeded, tmp_path: Path, monkeypatch) -> None:
    policy = read_only_policy()
    policy["Statement"].append(
        {"Effect": "Deny", "Action": "dynamodb:DescribeContinuousBackups", "Resource": "*"}
    )
    creds = _auditor(seeded, "pitr-blind", policy)
    out = tmp_path / "a.json"
    config = tmp_path / "advisory.json"
    config.write_text('{"all": "advisory"}')
    args = ("--include", "good", "--policy-config", str(config), "--json", str(out))
    code = audit(seeded.sb, monkeypatch, *args, creds=creds)
    unreadable = {f["resource"] for f in findings(out) if f["level"] == "unreadable"}
    assert unreadable == {seeded.arns["good"]}
    assert [f for f in findings(out) if f["level"] == "mandatory"] == []
    assert code == 3


def test_the_docs_give_the_exact_policy() -> None:
    text = (ROOT / "docs" / "audit.md").read_text(encoding="utf-8")
    assert read_only_policy_json() in text
    assert len(set(ACTIONS)) == len(ACTIONS)


def test_an_unread_stream_policy_defers_the_table_never_passes_it(
    seeded: Seeded, tmp_path: Path, monkeypatch
) -> None:
    policy = read_only_policy()
    policy["Statement"].append(
        {
            "Effect": "Deny",
            "Action": "dynamodb:GetResourcePolicy",
            "Resource": "arn:aws:dynamodb:*:*:table/*/stream/*",
        }
    )
    creds = _auditor(seeded, "stream-blind", policy)
    out = tmp_path / "a.json"
    audit(seeded.sb, monkeypatch, "--include", "streamed", "--json", str(out), creds=creds)
    a = seeded.arns
    unreadable = [f for f in findings(out) if f["level"] == "unreadable"]
    assert [(f["resource"], f["message"].split(" ")[0]) for f in unreadable] == [
        (a["stream"], "dynamodb:GetResourcePolicy")
    ]
    mine = [f for f in findings(out) if f["resource"] == a["streamed"]]
    proof = [f for f in mine if f["rule"] == "table-readers"]
    assert [f["level"] for f in proof] == ["deferred"]
    assert "stream's resource-based policy could not be read" in proof[0]["message"]
    pack = [f for f in mine if f["rule"] == "dynamodb-table-readers-match-declared"]
    assert pack and all(f["level"] == "deferred" for f in pack)
    assert all(a["partner"] not in f["message"] for f in mine)
