"""Every listing is read to its last page: tables past ListTables' 100, grants past 50."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from sandbox import running
from tests.audit.conftest import audit, findings, make_table

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]
TABLES = 105  # ListTables answers at most 100 names a page
GRANTS = 55  # ListGrants at most 50


def test_tables_and_grants_beyond_the_first_page(tmp_path: Path, monkeypatch) -> None:
    with running() as sb:
        kms = sb.client("kms")
        key = kms.create_key()["KeyMetadata"]
        kms.enable_key_rotation(KeyId=key["KeyId"])
        grantees = [f"arn:aws:iam::{sb.account_id}:role/g{i:03d}" for i in range(GRANTS)]
        for g in grantees:
            kms.create_grant(KeyId=key["KeyId"], GranteePrincipal=g, Operations=["Decrypt"])
        sse = {"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": key["Arn"]}
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda i: make_table(sb, f"p{i:03d}", sse), range(TABLES)))
        out = tmp_path / "a.json"
        audit(sb, monkeypatch, "--json", str(out))
    data = json.loads(out.read_text())
    assert data["resources"]["tables"] == TABLES
    pitr = {
        f["resource"] for f in findings(out) if f["rule"] == "dynamodb-table-point-in-time-recovery"
    }
    assert len(pitr) == TABLES
    # Each grant to a principal the key policy does not name is judged, the last page's too.
    grant_findings = " ".join(
        f["message"] for f in findings(out) if f["rule"] == "stack-key-access-matches-declared"
    )
    assert all(g in grant_findings for g in grantees)
