"""The linear glob matcher agrees with the former regex matcher and stays linear on attacks."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kmsguard.access import clear_caches, decide
from kmsguard.access.catalog import expand_actions
from kmsguard.access.matching import (
    arn_glob,
    compile_globs,
    glob,
    substituted_glob,
)
from tests.access.docs import ACCT, ALICE, row
from tests.budgets import examples

SETTINGS = settings(max_examples=examples(6))


# The former implementation, kept only here as the reference for the semantics.
@cache
def _oracle_regex(pattern: str) -> re.Pattern[str]:
    out = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(out, re.DOTALL)


@cache
def _oracle_substituted(text: str) -> re.Pattern[str]:
    out = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\x00" and i + 1 < len(text):
            out.append(re.escape(text[i + 1]))
            i += 2
            continue
        out.append(".*" if ch == "*" else "." if ch == "?" else re.escape(ch))
        i += 1
    return re.compile("".join(out), re.DOTALL)


def _oracle_arn(pattern: str) -> re.Pattern[str] | None:
    parts = pattern.split(":", 5)
    if len(parts) != 6:
        return None
    segs = []
    for i, part in enumerate(parts):
        seg_any = ".*" if i == 5 else "[^:]*"
        seg_one = "." if i == 5 else "[^:]"
        segs.append(
            "".join(seg_any if c == "*" else seg_one if c == "?" else re.escape(c) for c in part)
        )
    return re.compile(":".join(segs), re.DOTALL)


def _oracle_action(pattern: str, action: str) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(regex + r"\Z", re.I).match(action) is not None


# Small alphabets so that overlaps, repeats and near-misses are frequent.
PATTERNS = st.text(alphabet="ab*?:\n", max_size=9)
VALUES = st.text(alphabet="ab:\n*?", max_size=12)
MARKED = st.text(alphabet=["a", "b", "*", "?", "\x00", ":"], max_size=10)


@SETTINGS
@given(PATTERNS, VALUES)
def test_glob_agrees_with_the_former_regex(pattern: str, value: str) -> None:
    assert glob(pattern).matches(value) == bool(_oracle_regex(pattern).fullmatch(value))


@SETTINGS
@given(st.text(alphabet="ab?", min_size=1, max_size=6).map(lambda s: f"*{s}*"), VALUES)
def test_middle_segments_with_several_literal_runs(pattern: str, value: str) -> None:
    # `?` between literals inside a starred segment takes the shift-and path.
    assert glob(pattern).matches(value) == bool(_oracle_regex(pattern).fullmatch(value))


@settings(max_examples=examples(2))
@given(
    st.text(alphabet="ab?", min_size=2, max_size=12).map(lambda s: f"*{s}*b"),
    st.text(alphabet="abc", min_size=60, max_size=400),
)
def test_long_values_cross_the_search_windows(pattern: str, value: str) -> None:
    # Values longer than the first search window: a match may straddle two windows.
    assert glob(pattern).matches(value) == bool(_oracle_regex(pattern).fullmatch(value))


@SETTINGS
@given(MARKED, VALUES)
def test_substituted_glob_keeps_marked_characters_literal(text: str, value: str) -> None:
    assert substituted_glob(text).matches(value) == bool(_oracle_substituted(text).fullmatch(value))


@SETTINGS
@given(st.text(alphabet="a*?:", max_size=14), st.text(alphabet="a:", max_size=12))
def test_arn_glob_keeps_wildcards_inside_their_part(pattern: str, value: str) -> None:
    oracle = _oracle_arn(pattern)
    compiled = arn_glob(pattern)
    assert (compiled is None) == (oracle is None)
    if compiled is not None and oracle is not None:
        assert compiled.matches(value) == bool(oracle.fullmatch(value))


@SETTINGS
@given(st.lists(PATTERNS, max_size=4), VALUES, st.booleans())
def test_glob_set_is_any_of_its_patterns(patterns: list[str], value: str, fold: bool) -> None:
    folded = [p.lower() if fold else p for p in patterns]
    expected = any(_oracle_regex(p).fullmatch(value) for p in folded)
    assert compile_globs(patterns, fold_case=fold).matches(value) == expected


@SETTINGS
@given(st.text(alphabet="aAbB:*?", max_size=8), st.text(alphabet="aAbB:", max_size=10))
def test_pack_action_matching_is_case_insensitive_like_before(pattern: str, action: str) -> None:
    # The AST's Action matching, which the pack reads through Statement.covers.
    found = compile_globs([pattern], fold_case=True).matches(action.lower())
    assert found == _oracle_action(pattern, action)


def test_catalog_expansion_uses_the_same_globs() -> None:
    assert expand_actions("kms:?ecrypt") == ["kms:Decrypt"]
    assert "kms:GenerateDataKeyWithoutPlaintext" in expand_actions("k?s:generate*without*")


def test_no_regular_expression_is_built_from_a_policy_pattern(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Patterns come from pull requests and requests; none may reach the regex engine."""
    compiled: list[str] = []
    real = re.compile

    def spy(pattern: Any, flags: int = 0) -> re.Pattern[str]:
        compiled.append(str(pattern))
        return real(pattern, flags)

    clear_caches()
    monkeypatch.setattr(re, "compile", spy)
    decision = decide(
        {
            "principal": ALICE,
            "action": "dynamodb:GetItem",
            "resource": f"arn:aws:dynamodb:us-east-1:{ACCT}:table/zzqq-b",
            "context": {"aws:username": "alice"},
            "identity_policies": [
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": "dynamodb:G?t*",
                            "Resource": "arn:aws:dynamodb:*:*:table/zz*q?-b",
                            "Condition": {
                                "StringLike": {"aws:username": "al*"},
                                "ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:user/a*"},
                            },
                        }
                    ],
                }
            ],
        }
    )
    assert decision.allowed
    assert not [p for p in compiled if "zz" in p or "al" in p or "G" in p]


@pytest.mark.parametrize("allowed", [True, False])
def test_the_reported_attack_on_a_30000_character_name_is_decided(allowed: bool) -> None:
    """`*a*a*a*a*a*b` against a long run of `a`: exponential for a backtracking regex."""
    name = "a" * 30_000 + ("b" if allowed else "c")
    decision = decide(
        {
            "principal": ALICE,
            "action": "dynamodb:GetItem",
            "resource": f"arn:aws:dynamodb:us-east-1:{ACCT}:table/{name}",
            "identity_policies": [
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": "dynamodb:GetItem",
                            "Resource": "arn:aws:dynamodb:*:*:table/*a*a*a*a*a*b",
                        }
                    ],
                }
            ],
        }
    )
    assert decision.allowed is allowed


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        ("*a?a?a?b*", "a" * 20_000 + "axaxab", False),
        ("*a?a?a?b*", "a" * 20_000 + "xaxaxb", True),
        ("*ab?ab?ab?c*", "ab" * 10_000 + "abxabxabz", False),
        ("*ab?ab?ab?c*", "ab" * 10_000 + "abxabxabzc", True),
        ("?*?*?*?", "x" * 3, False),
        ("?*?*?*?", "x" * 4, True),
    ],
)
def test_adversarial_shapes(pattern: str, value: str, expected: bool) -> None:
    assert glob(pattern).matches(value) is expected


@pytest.mark.parametrize("offset", range(55, 140, 3))
def test_a_match_straddling_two_search_windows_is_found(offset: int) -> None:
    value = "c" * offset + "abxab" + "c" * 300
    assert glob("*ab?ab*").matches(value)
    assert not glob("*ab?ac*").matches(value)


def test_compiled_pattern_sets_are_immutable_glob_sets() -> None:
    import dataclasses

    from kmsguard.access.matching import GlobSet, compile_globs

    got = compile_globs(["kms:Decrypt", "kms:Re*", "kms:*Key?"], fold_case=True)
    assert type(got) is GlobSet
    assert got.exact == frozenset({"kms:decrypt"}) and got.prefixes == ("kms:re",)
    assert got.matches("kms:reencryptfrom") and got.matches("kms:describekeys")
    assert not got.matches("kms:describekey")
    with pytest.raises(dataclasses.FrozenInstanceError):
        got.any = True  # type: ignore[misc]


@pytest.mark.parametrize(
    ("identity", "effect"),
    [
        ([{"Effect": "Allow", "Action": "iam:GetPolicy", "Resource": "*"}], "allow"),
        ([], "implicit_deny"),
        (
            [
                {"Effect": "Allow", "Action": "iam:GetPolicy", "Resource": "*"},
                {"Effect": "Deny", "Action": "iam:GetPolicy", "Resource": "arn:aws:iam::aws:*"},
            ],
            "explicit_deny",
        ),
    ],
)
def test_an_aws_managed_policy_is_read_on_identity_policies_alone(
    identity: list[dict[str, Any]], effect: str
) -> None:
    row_name = row("aws-managed-policy-resource")
    d = decide(
        {
            "principal": "arn:aws:iam::123456789012:user/auditor",
            "action": "iam:GetPolicy",
            "resource": "arn:aws:iam::aws:policy/ReadOnlyAccess",
            "identity_policies": [{"Version": "2012-10-17", "Statement": identity}]
            if identity
            else [],
        }
    )
    assert d.effect == effect, (row_name, d)
    assert "resource-based" not in d.reason, d
