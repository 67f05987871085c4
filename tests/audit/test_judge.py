"""Which resource a pack's diagnostic is about: its record's fields, the text only without one."""

from __future__ import annotations

from kmsguard.audit.judge import _Index
from kmsguard.audit.model import Stack
from kmsguard.findings import Finding, Reported
from kmsguard.preview.collect import RegisteredResource
from kmsguard.preview.diagnostics import Violation

RULE = "stack-key-access-matches-declared"
KEY = "arn:aws:kms:us-east-1:111122223333:key/k1"
TABLE = "arn:aws:dynamodb:us-east-1:111122223333:table/t1"


def _resource(type_: str, name: str) -> RegisteredResource:
    urn = f"urn:pulumi:111122223333::kmsguard::{type_}::{name}"
    return RegisteredResource(type_, urn, name, True, "", "", [], {}, {}, {})


def _stack() -> tuple[Stack, RegisteredResource, RegisteredResource]:
    stack = Stack("us-east-1")
    key, table = _resource("aws:kms/key:Key", "k1"), _resource("aws:dynamodb/table:Table", "t1")
    stack.add(key, KEY)
    stack.add(table, TABLE)
    return stack, key, table


def _violation(text: str, *found: Finding) -> Violation:
    return Violation(
        RULE, "p", "1", text, "", "", "mandatory", "high", findings=tuple(map(Reported, found))
    )


def test_the_record_names_the_resource_whatever_the_words_say() -> None:
    stack, _, table = _stack()
    index = _Index(stack)
    # The message's first words name the key; the finding itself is about the table.
    said = "Key 'k1': quoted in a table's finding"
    about_table = Finding(RULE, "undeclared-outsider", "Table 't1'", "x")
    assert index.arn_for(_violation(said, about_table)) == (TABLE, table.type)
    by_urn = Finding(RULE, "undeclared-outsider", "", "x", urn=table.urn)
    assert index.arn_for(_violation(said, by_urn)) == (TABLE, table.type)


def test_without_a_record_the_text_still_names_it() -> None:
    stack, key, _ = _stack()
    assert _Index(stack).arn_for(_violation("Key 'k1': open")) == (KEY, key.type)
