"""Which of the account's principals each table's readers proof is offered."""

from __future__ import annotations

from kmsguard.access import parse_policy
from kmsguard.audit.readers import Reach

ACCT = "111122223333"
TABLE = f"arn:aws:dynamodb:us-east-1:{ACCT}:table/t"
OTHER = f"arn:aws:dynamodb:us-east-1:{ACCT}:table/u"


def _identity(action: str, resource: str) -> list:
    doc = {"Statement": [{"Effect": "Allow", "Action": action, "Resource": resource}]}
    return [parse_policy(doc, kind="identity")]


def _resource(principal: object) -> object:
    st = {"Effect": "Allow", "Principal": principal, "Action": "dynamodb:*", "Resource": TABLE}
    doc = {"Statement": [st]}
    return parse_policy(doc, kind="resource")


PEOPLE = {
    f"arn:aws:iam::{ACCT}:role/Exact": _identity("dynamodb:GetItem", TABLE),
    f"arn:aws:iam::{ACCT}:role/Elsewhere": _identity("dynamodb:Query", OTHER),
    f"arn:aws:iam::{ACCT}:role/Prefix": _identity("dynamodb:Scan", f"{OTHER[:-1]}*"),
    f"arn:aws:iam::{ACCT}:role/NoRead": _identity("dynamodb:PutItem", TABLE),
}


def _names(found: dict) -> set[str]:
    return {a.rsplit("/", 1)[-1] for a in found}


def test_a_table_is_offered_who_may_reach_it_and_who_its_policies_name() -> None:
    reach = Reach(PEOPLE)
    assert _names(reach.of([TABLE], [])) == {"Exact", "Prefix"}
    assert _names(reach.of([TABLE.upper()], [])) == {"Exact", "Prefix"}
    named = _resource({"AWS": f"arn:aws:iam::{ACCT}:role/elsewhere"})
    assert _names(reach.of([TABLE], [named])) == {"Exact", "Prefix", "Elsewhere"}


def test_a_policy_that_may_let_in_anyone_offers_everyone() -> None:
    reach = Reach(PEOPLE)
    for principal in ("*", {"AWS": ACCT}, {"AWS": f"arn:aws:sts::{ACCT}:assumed-role/X/s"}):
        assert reach.of([TABLE], [_resource(principal)]) == PEOPLE, principal
