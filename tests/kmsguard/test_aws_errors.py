"""What AWS answered: one reading of a refused call's code and message for every caller."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from botocore.exceptions import ClientError, EndpointConnectionError

from kmsguard.aws_errors import error_code, error_message

ROOT = Path(__file__).resolve().parents[2]


def test_a_refusal_gives_aws_code_and_message() -> None:
    exc = ClientError(
        {"Error": {"Code": "AccessDeniedException", "Message": "not kms:Decrypt"}}, "Decrypt"
    )
    assert (error_code(exc), error_message(exc)) == ("AccessDeniedException", "not kms:Decrypt")


def test_an_answer_without_code_or_message_says_unknown() -> None:
    for response in ({"Error": {}}, {}):
        exc = ClientError(response, "Decrypt")  # type: ignore[arg-type]
        assert (error_code(exc), error_message(exc)) == ("Unknown", "")


def test_a_failure_without_an_answer_is_named_by_its_class() -> None:
    exc = EndpointConnectionError(endpoint_url="http://127.0.0.1:9")
    assert error_code(exc) == "EndpointConnectionError"
    assert "127.0.0.1:9" in error_message(exc)


def test_an_exception_whose_response_is_not_an_answer_is_named_by_its_class() -> None:
    class HttpError(Exception):
        response = object()

    assert (error_code(HttpError("boom")), error_message(HttpError("boom"))) == (
        "HttpError",
        "boom",
    )


def test_the_domain_package_reads_it_without_botocore() -> None:
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, kmsguard.aws_errors; assert 'botocore' not in sys.modules",
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert run.returncode == 0, run.stderr


def _reads_the_error_by_hand(tree: ast.AST) -> bool:
    """`<x>.response.get("Error", ...)` or `<x>.response["Error"]`."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner, args = node.func.value, node.args
            if (
                node.func.attr == "get"
                and isinstance(owner, ast.Attribute)
                and owner.attr == "response"
                and args
                and isinstance(args[0], ast.Constant)
                and args[0].value == "Error"
            ):
                return True
        if (
            isinstance(node, ast.Subscript)
            and isinstance(node.value, ast.Attribute)
            and node.value.attr == "response"
            and isinstance(node.slice, ast.Constant)
            and node.slice.value == "Error"
        ):
            return True
    return False


def test_no_other_module_reads_a_refusal_by_hand() -> None:
    readers = sorted(
        p.relative_to(ROOT).as_posix()
        for package in ("kmsguard", "policies", "sandbox", "verification", "demo", "provider")
        for p in (ROOT / package).rglob("*.py")
        if "venv" not in p.parts
        and p != ROOT / "kmsguard" / "aws_errors.py"
        and _reads_the_error_by_hand(ast.parse(p.read_text(encoding="utf-8")))
    )
    assert readers == [], "use kmsguard.aws_errors.error_code / error_message"
