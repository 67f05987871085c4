"""PartiQL read by the parser moto executes it with; moto confined to the tables so authorized."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

# IAM action of each statement verb (DynamoDB's PartiQL actions).
ACTIONS = {
    "select": "PartiQLSelect",
    "insert": "PartiQLInsert",
    "update": "PartiQLUpdate",
    "delete": "PartiQLDelete",
}
_CLAUSES = re.compile("SELECT | FROM | WHERE ", flags=re.IGNORECASE)


class StatementError(Exception):
    """The statement cannot be read; the message says what is accepted."""


def _read(statement: str) -> tuple[str, list[str]]:
    # py-partiql-parser's DynamoDBStatementParser.parse, step for step: the verb is the
    # statement's first word, the table(s) come from the parser of that verb.
    from py_partiql_parser._internal.delete_parser import DeleteParser
    from py_partiql_parser._internal.from_parser import DynamoDBFromParser
    from py_partiql_parser._internal.insert_parser import InsertParser
    from py_partiql_parser._internal.update_parser import UpdateParser

    verb = next((v for v in ACTIONS if statement.lower().startswith(v)), None)
    if verb is None:
        raise StatementError("it must start with SELECT, INSERT, UPDATE or DELETE")
    query = statement.replace("\n", " ")
    if verb == "select":
        clauses = _CLAUSES.split(query)
        names = list(DynamoDBFromParser(from_clause=clauses[2]).clauses.values())
    elif verb == "update":
        names = [UpdateParser().parse(query)[0]]
    elif verb == "delete":
        names = [DeleteParser().parse(query)[0]]
    else:
        names = [InsertParser().parse(query)[0]]
    return ACTIONS[verb], [str(name) for name in names]


def tables_of(statement: Any) -> tuple[str, list[str]]:
    """The statement's IAM action and the names it reads or writes; raise StatementError."""
    if not isinstance(statement, str) or not statement:
        raise StatementError("it must be a non-empty string")
    try:
        action, names = _read(statement)
    except StatementError:
        raise
    except Exception as exc:  # the parser's own errors are assertions and index errors
        raise StatementError(f"the parser cannot read it ({type(exc).__name__})") from None
    if not names or any(not name for name in names):
        raise StatementError("it names no table")
    return action, names


def resolve(name: str, tables: dict[str, Any]) -> list[tuple[str, str]]:
    """(table, index or "") a parser name reads: `t`, or `t.index` (a table name may itself
    hold dots, so every reading is returned); the name itself when no table matches (moto:
    not found).

    Linear in the name for each table of the account: no slice per dot of the name. AWS's
    form `"t"."index"` reaches the parser as `t"."index` (no table name holds a quote).
    """
    table_part, quoted, index_part = name.partition(QUOTED_INDEX)
    if quoted and table_part in tables and index_part in _index_names(tables[table_part]):
        # moto holds the index's items under `t.i`, as it holds a table named `t.i`.
        dotted = f"{table_part}.{index_part}"
        return [(table_part, index_part)] + ([(dotted, "")] if dotted in tables else [])
    found = [(name, "")] if name in tables else []
    for table_name, table in tables.items():
        cut = len(table_name)
        if (
            len(name) > cut + 1
            and name[cut] == "."
            and name.startswith(table_name)
            and name[cut + 1 :] in _index_names(table)
        ):
            found.append((table_name, name[cut + 1 :]))
    return found or [(name, "")]


def _index_names(table: Any) -> set[str]:
    return {str(getattr(index, "name", "")) for index in table.all_indexes()}


_confined = threading.local()
# How the parser reads the dot between a quoted table and a quoted index: `"t"."i"`.
QUOTED_INDEX = '"."'


@contextmanager
def confined(names: frozenset[str], tables: frozenset[str]) -> Iterator[None]:
    """While moto runs one request: its PartiQL engine sees only the names the statements were
    authorized under, and writes only the authorized tables."""
    _confined.names, _confined.tables = names, tables
    try:
        yield
    finally:
        _confined.names = _confined.tables = frozenset()


def install() -> None:
    """moto hands every table to the PartiQL engine: give it only the authorized ones."""
    from moto.dynamodb.exceptions import ResourceNotFoundException
    from moto.dynamodb.parsing import partiql as moto_partiql

    query = moto_partiql.query

    def confined_query(statement: str, source_data: dict[str, Any], parameters: Any) -> Any:
        names: frozenset[str] = getattr(_confined, "names", frozenset())
        tables: frozenset[str] = getattr(_confined, "tables", frozenset())
        visible = {name: data for name, data in source_data.items() if name in names}
        for name in names:
            # moto holds an index's items under `t.i`; the parser names it `t"."i`.
            table, quoted, index = name.partition(QUOTED_INDEX)
            if quoted and f"{table}.{index}" in source_data:
                visible[name] = source_data[f"{table}.{index}"]
        result, updates = query(statement, visible, parameters)
        if any(table not in tables for table in updates):
            raise ResourceNotFoundException()
        return result, updates

    moto_partiql.query = confined_query
    if getattr(moto_partiql.get_query_metadata, "unquoted", False):
        return
    metadata = moto_partiql.get_query_metadata

    def unquoted_metadata(statement: str) -> Any:
        # BatchExecuteStatement looks a statement's table up by this name, which keeps the
        # quotes of `"t"`; the authorizer read `t` (no table name holds a quote).
        found = metadata(statement)
        names = found.get_table_names
        found.get_table_names = lambda: [
            n[1:-1] if len(n) > 1 and n[0] == n[-1] == '"' else n for n in names()
        ]
        return found

    unquoted_metadata.unquoted = True  # type: ignore[attr-defined]
    moto_partiql.get_query_metadata = unquoted_metadata
