"""`python -m kmsguard.access decide`: JSON in, JSON out, exit 2 on bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.access.docs import ACCT, ROOT, ROOT_DELEGATION, aws, doc, row, scenario, stmt


def run(*args: str, stdin: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kmsguard.access", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


ALLOWED = scenario(identity=[doc(stmt(action="kms:Decrypt"))], resource_policy=doc(ROOT_DELEGATION))
DENIED = scenario(resource_policy=doc(ROOT_DELEGATION))


def test_single_scenario() -> None:
    out = run("decide", stdin=json.dumps(ALLOWED))
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert set(result) == {"effect", "reason", "statements"}
    assert result["effect"] == "allow"
    assert result["statements"][0]["sid"] == "EnableRootAccountIamDelegation"


def test_list_of_scenarios_and_explain() -> None:
    out = run("decide", "--explain", stdin=json.dumps([ALLOWED, DENIED]))
    assert out.returncode == 0, out.stderr
    results = json.loads(out.stdout)
    assert [r["effect"] for r in results] == ["allow", "implicit_deny"]
    assert results[1]["message"].endswith(
        "because no identity-based policy allows the kms:Decrypt action"
    )
    assert results[0]["unknown_actions"] == []


def test_explain_reports_unknown_actions() -> None:
    s = scenario(identity=[doc(stmt(action="kms:Decrpyt"))], resource_policy=doc(ROOT_DELEGATION))
    results = json.loads(run("decide", "--explain", stdin=json.dumps(s)).stdout)
    assert results["unknown_actions"] == [
        {"policy": "identity[0]", "path": "Statement[0].Action", "action": "kms:Decrpyt"}
    ]


def test_bad_json_exits_2_with_one_line() -> None:
    out = run("decide", stdin="{nope")
    assert out.returncode == 2
    assert "not JSON" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    assert "Traceback" not in out.stderr


def test_bad_document_exits_2_naming_the_path() -> None:
    bad = scenario(identity=[doc(stmt(condition={"StringEqualz": {"a:b": "c"}}))])
    out = run("decide", stdin=json.dumps([ALLOWED, bad]))
    assert out.returncode == 2
    assert out.stderr.strip().startswith(
        "kmsguard.access: scenario[1]: identity[0].Statement[0].Condition: unknown condition"
    )
    assert out.stdout == ""


def test_usage_error_exits_2() -> None:
    out = run("frobnicate", stdin="")
    assert out.returncode == 2
    assert "Traceback" not in out.stderr


def test_expand() -> None:
    out = run("expand", "kms:*crypt*", stdin="")
    assert out.returncode == 0
    assert out.stdout.split() == [
        "kms:Decrypt",
        "kms:Encrypt",
        "kms:ReEncryptFrom",
        "kms:ReEncryptTo",
    ]


def test_every_bad_scenario_in_a_list_is_named_and_nothing_is_printed() -> None:
    bad_doc = scenario(identity=[doc(stmt(condition={"StringEqualz": {"a:b": "c"}}))])
    out = run("decide", stdin=json.dumps([ALLOWED, bad_doc, DENIED, {"principal": 5}]))
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert [line.split(":")[1].strip() for line in lines] == ["scenario[1]", "scenario[3]"]
    assert out.stdout == ""


def test_empty_stdin_says_what_is_expected() -> None:
    out = run("decide", stdin="  \n")
    assert out.returncode == 2
    assert out.stderr.strip() == (
        "kmsguard.access: stdin is empty; expected a scenario object or a list of them"
    )


def test_deeply_nested_json_is_one_line_not_a_traceback() -> None:
    out = run("decide", stdin="[" * 100_000)
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert out.stderr.strip() == (
        "kmsguard.access: stdin is nested too deeply to read; "
        "expected a scenario object or a list of them"
    )


def test_expand_matching_nothing_says_so_and_exits_1() -> None:
    out = run("expand", "kms:Nope*", stdin="")
    assert out.returncode == 1
    assert out.stdout == ""
    assert out.stderr.strip() == "kmsguard.access: no catalog action matches 'kms:Nope*'"


def test_a_reader_that_stops_early_gets_no_traceback() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "kmsguard.access", "expand", "*"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline()  # like `| head -1`
    proc.stdout.close()
    err = proc.stderr.read()
    proc.stderr.close()
    assert proc.wait(timeout=60) == 1
    assert "Traceback" not in err and "BrokenPipeError" not in err


def test_trust_policy_with_resource_exits_2_naming_document_and_path() -> None:
    role = "arn:aws:iam::111122223333:role/deployer"
    bad = {
        **scenario(action="sts:AssumeRole", resource=role),
        "resource_policy": None,
        "trust_policy": doc(stmt(action="sts:AssumeRole", principal={"AWS": "111122223333"})),
    }
    out = run("decide", stdin=json.dumps(bad))
    assert out.returncode == 2
    assert out.stderr.strip() == (
        "kmsguard.access: trust.Statement[0].Resource: a role trust policy must not have Resource"
    )
    assert out.stdout == ""


def test_malformed_grant_exits_2_naming_document_and_path() -> None:
    bad = {
        **ALLOWED,
        "grants": [{"GrantId": "g", "GranteePrincipal": "bob", "Operations": ["Decrypt"]}],
    }
    out = run("decide", stdin=json.dumps(bad))
    assert out.returncode == 2
    assert out.stderr.startswith("kmsguard.access: grants[0].GranteePrincipal: 'bob' is not")
    assert "Traceback" not in out.stderr


KMS_STAR_FOR_ANYONE = doc(stmt(principal={"AWS": "*"}))


@pytest.mark.parametrize(
    ("action", "closest"),
    [("kms:Decrpt", "kms:Decrypt"), ("kms:Frobnicate", "kms:"), ("kmss:Decrypt", "kms:Decrypt")],
)
def test_a_request_for_an_action_aws_does_not_have_is_bad_input(action: str, closest: str) -> None:
    row("unknown-action")
    # `kms:*` for everyone would match any kms: name; the request itself is the mistake.
    s = scenario(principal=ROOT, action=action, resource_policy=KMS_STAR_FOR_ANYONE)
    out = run("decide", "--explain", stdin=json.dumps([ALLOWED, s]))
    assert out.returncode == 2
    assert out.stdout == ""
    [line] = out.stderr.strip().splitlines()
    assert line.startswith(f"kmsguard.access: scenario[1]: action: {action!r} is not an action")
    named = line.split("closest: ", 1)[1].split(", ")
    assert named and all(a.startswith(closest) for a in named[:1]), line


def test_a_huge_unknown_action_is_refused_quickly_with_one_line() -> None:
    s = scenario(action="kms:" + "Decrypt" * 200_000, resource_policy=KMS_STAR_FOR_ANYONE)
    out = run("decide", stdin=json.dumps(s))
    assert out.returncode == 2
    assert len(out.stderr.strip().splitlines()) == 1
    assert "characters)" in out.stderr and "Traceback" not in out.stderr


def test_a_policy_naming_an_unknown_action_gets_a_warning_and_still_an_answer() -> None:
    policy = doc(stmt(principal=aws(ROOT), action=["kms:Decrpt", "kms:Decrypt"]))
    out = run("decide", stdin=json.dumps(scenario(principal=ROOT, resource_policy=policy)))
    assert out.returncode == 0
    assert json.loads(out.stdout)["effect"] == "allow"
    [warning] = out.stderr.strip().splitlines()
    assert warning.startswith("kmsguard.access: warning: resource Statement[0].Action[0]: ")
    assert "'kms:Decrpt'" in warning and "closest: kms:Decrypt" in warning


def test_public_and_diff_warn_about_unknown_actions(tmp_path: Path) -> None:
    good = tmp_path / "old.json"
    good.write_text(json.dumps(doc(stmt(principal=aws(ROOT)))), encoding="utf-8")
    typo = tmp_path / "new.json"
    typo.write_text(
        json.dumps(
            doc(stmt(principal=aws(ROOT)), stmt(principal={"AWS": "*"}, action="kms:Decrpt"))
        ),
        encoding="utf-8",
    )
    for args in (["public", str(typo), "--account", ACCT], ["diff", str(good), str(typo)]):
        out = run(*args, "--json", stdin="")
        assert out.returncode in (0, 1), out.stderr
        json.loads(out.stdout)  # the warning stays off stdout
        warnings = [ln for ln in out.stderr.splitlines() if "warning:" in ln]
        assert len(warnings) == 1, out.stderr
        assert f"{typo} Statement[1].Action: 'kms:Decrpt'" in warnings[0]
        assert "closest: kms:Decrypt" in warnings[0]


def test_suggestions_are_worked_out_for_the_first_unknown_actions_only(tmp_path: Path) -> None:
    # Each suggestion compares against a whole service (ec2: hundreds of actions); a policy
    # full of made-up names gets every one named, the first few with their likely intent.
    typos = [f"ec2:DescribeInstancez{i}" for i in range(300)]
    policy = tmp_path / "p.json"
    policy.write_text(json.dumps(doc(stmt(principal=aws(ROOT), action=typos))), encoding="utf-8")
    out = run("public", str(policy), "--account", ACCT, stdin="")
    warnings = [ln for ln in out.stderr.splitlines() if "warning:" in ln]
    assert len(warnings) == 300
    assert [("closest: ec2:DescribeInstances" in w) for w in warnings] == [True] * 10 + [
        False
    ] * 290
