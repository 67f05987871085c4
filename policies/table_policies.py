"""A table's own policies, stream, indexes and exports, as the stack declares them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kmsguard.access.arn import account_of, parse_arn
from kmsguard.contract import AwsType, Output
from policies.stack.graph import Node, StackView
from policies.values import DocumentError, Unknown, is_unknown, load_document

RESOURCE_POLICY = AwsType.DYNAMODB_RESOURCE_POLICY
TABLE_EXPORT = "aws:dynamodb/tableExport:TableExport"
# The export's property naming its table: the word the stack's table output uses too.
EXPORT_TABLE = Output.TABLE_ARN
# Where a resource-based policy applies. Until deployment its resourceArn may be unknown: it
# depends on the table, and a table's stream ARN comes from the table too.
ON_TABLE, ON_STREAM, ON_EITHER = "table", "stream", "table or stream"


@dataclass
class AttachedPolicy:
    """One `ResourcePolicy` on the table or its stream: its document, or why it is not known."""

    node: Node
    target: str  # ON_TABLE, ON_STREAM or ON_EITHER
    document: dict[str, Any] | Unknown | None  # None: unreadable (`problem` says why)
    problem: str = ""


@dataclass
class TableFacts:
    """What decides who reads a table, besides its key and the stack's principals."""

    node: Node
    arn: str | None  # None until deployment
    name: str | None
    stream: bool | None  # streamEnabled; None: unknown now
    stream_arn: str | None
    # streamViewType: every view carries item data (KEYS_ONLY the key attributes), so each
    # counts as a read path; it is kept to say which data a stream reader gets.
    stream_view: str | None
    indexes: list[str]
    indexes_unknown: bool
    policies: list[AttachedPolicy] = field(default_factory=list)
    exports: list[Node] = field(default_factory=list)

    @property
    def account(self) -> str:
        return account_of(self.arn) or ""


def _text(value: Any) -> str | None:
    """A known, non-empty string (preview's unknown values are strings too: not those)."""
    return value if isinstance(value, str) and value and not is_unknown(value) else None


def _index_names(props: dict[str, Any]) -> tuple[list[str], bool]:
    names: list[str] = []
    unknown = False
    for prop in ("globalSecondaryIndexes", "localSecondaryIndexes"):
        items = props.get(prop)
        if is_unknown(items):
            unknown = True
            continue
        for item in items if isinstance(items, list) else []:
            name = _text(item.get("name")) if isinstance(item, dict) else None
            if name is not None and "/" not in name:
                names.append(name)
            elif is_unknown(item) or (isinstance(item, dict) and is_unknown(item.get("name"))):
                unknown = True
    return names, unknown


def _target(value: Any, node: Node, facts: TableFacts, prop: str) -> str | None:
    """Where a resourceArn (or an export's tableArn) points, relative to the table; None when
    it names another resource."""
    text = _text(value)
    if text is None:
        return ON_EITHER if is_unknown(value) and facts.node.urn in node.dep_urns(prop) else None
    if facts.arn is not None:
        if text == facts.arn:
            return ON_TABLE
        if text == facts.stream_arn or text.startswith(f"{facts.arn}/stream/"):
            return ON_STREAM
        return None
    arn = parse_arn(text)
    if arn is None or arn.service != "dynamodb" or facts.name is None:
        return None
    parts = arn.resource.split("/")
    if parts[:2] != ["table", facts.name]:
        return None
    return ON_TABLE if len(parts) == 2 else ON_STREAM if parts[2:3] == ["stream"] else None


class Referrers:
    """Resources of one type that may name a table through `prop`, indexed once per stack by
    the table they depend on and the table name their ARN holds (linear in the stack)."""

    def __init__(self, view: StackView, type_: str, prop: str) -> None:
        self.prop = prop
        self._by_urn: dict[str, list[Node]] = {}
        self._by_name: dict[str, list[Node]] = {}
        for node in view.of_type(type_):
            for urn in node.dep_urns(prop):
                self._by_urn.setdefault(urn, []).append(node)
            arn = parse_arn(_text(node.props.get(prop)))
            parts = arn.resource.split("/") if arn is not None else []
            if len(parts) >= 2 and parts[0] == "table":
                self._by_name.setdefault(parts[1], []).append(node)

    def of(self, facts: TableFacts) -> list[Node]:
        found = {id(n): n for n in self._by_urn.get(facts.node.urn, [])}
        for n in self._by_name.get(facts.name or "", []):
            found[id(n)] = n
        return [
            n
            for n in found.values()
            if _target(n.props.get(self.prop), n, facts, self.prop) is not None
        ]


@dataclass
class TableIndex:
    """The stack's resource policies and exports, indexed once for every table."""

    policies: Referrers
    exports: Referrers

    @staticmethod
    def of(view: StackView) -> TableIndex:
        return TableIndex(
            Referrers(view, RESOURCE_POLICY, "resourceArn"),
            Referrers(view, TABLE_EXPORT, EXPORT_TABLE),
        )


def table_facts(view: StackView, table: Node, index: TableIndex | None = None) -> TableFacts:
    index = index or TableIndex.of(view)
    props = table.props
    enabled = props.get("streamEnabled")
    indexes, indexes_unknown = _index_names(props)
    facts = TableFacts(
        node=table,
        arn=_text(props.get("arn")),
        name=_text(props.get("name")),
        stream=None if is_unknown(enabled) else bool(enabled),
        stream_arn=_text(props.get("streamArn")),
        stream_view=_text(props.get("streamViewType")),
        indexes=indexes,
        indexes_unknown=indexes_unknown,
    )
    for node in index.policies.of(facts):
        target = _target(node.props.get("resourceArn"), node, facts, "resourceArn")
        if target is None:
            continue
        if target == ON_EITHER and facts.stream is False:
            target = ON_TABLE  # no stream for it to be on
        raw = node.props.get("policy")
        try:
            facts.policies.append(AttachedPolicy(node, target, load_document(raw)))
        except DocumentError as exc:
            facts.policies.append(AttachedPolicy(node, target, None, str(exc)))
    facts.exports = index.exports.of(facts)
    return facts
