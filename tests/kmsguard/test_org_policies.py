"""A directory of SCP/RCP levels: loaded in name order, every problem named with its file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from kmsguard.org_policies import OrgPoliciesError, load_org_policies

ALLOW_ALL = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}
RCP = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Deny", "Principal": "*", "Action": "kms:*", "Resource": "*"}],
}


def write(d: Path, name: str, doc: object) -> None:
    (d / name).write_text(doc if isinstance(doc, str) else json.dumps(doc))


def test_levels_in_name_order(tmp_path: Path) -> None:
    write(tmp_path, "scp-2-account.json", {**ALLOW_ALL, "Id": "account"})
    write(tmp_path, "scp-1-root.json", {**ALLOW_ALL, "Id": "root"})
    write(tmp_path, "rcp-1-root.json", RCP)
    org = load_org_policies(tmp_path)
    assert [p.id for p in org.scps] == ["root", "account"]
    assert len(org.rcps) == 1 and org.rcps[0].kind == "resource"


@pytest.mark.parametrize(
    ("name", "doc", "fragment"),
    [
        ("notes.txt", "hi", "unexpected entry; allowed: scp-<name>.json and rcp-<name>.json"),
        ("scp-1.json", "{oops", "scp-1.json: not JSON"),
        ("rcp-1.json", ALLOW_ALL, "rcp-1.json: Statement[0]: needs Principal or NotPrincipal"),
        (
            "scp-1.json",
            RCP,
            "scp-1.json: Statement[0].Principal: an identity-based policy must not",
        ),
        ("scp-big.json", {**ALLOW_ALL, "Id": "x" * 6000}, "an organization policy is at most 5120"),
    ],
)
def test_a_bad_entry_is_named(tmp_path: Path, name: str, doc: object, fragment: str) -> None:
    write(tmp_path, name, doc)
    with pytest.raises(OrgPoliciesError) as err:
        load_org_policies(tmp_path)
    assert fragment in str(err.value)


def test_not_a_directory(tmp_path: Path) -> None:
    with pytest.raises(OrgPoliciesError, match="not a directory"):
        load_org_policies(tmp_path / "missing")


def test_verifier_cli_refuses_a_bad_org_policies_dir_in_one_line(tmp_path: Path) -> None:
    write(tmp_path, "scp-1.json", "{oops")
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "verification",
            "--outputs",
            "x.json",
            "--org-policies",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    assert out.stderr.startswith("verification: --org-policies: ")
    assert "scp-1.json: not JSON" in out.stderr and len(out.stderr.strip().splitlines()) == 1


def test_a_level_is_read_the_same_from_text_bytes_or_a_parsed_document() -> None:
    from kmsguard.org_policies import OrgPoliciesError, read_level

    doc = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}],
    }
    text = json.dumps(doc)
    for given in (doc, text, text.encode()):
        assert read_level(given, "scp", "x").statements[0].effect == "Deny"
    with pytest.raises(OrgPoliciesError, match=r"^config\[2\]: "):
        read_level({"Statement": [{"Effect": "Maybe"}]}, "rcp", "config[2]")
