"""What the parts of stack-key-access-matches-declared share: actions, documents, access paths."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kmsguard.contract import account_root_arn
from policies.document import is_account_root, statements
from policies.rules._principals import readable
from policies.stack.principals import StackSubject

if TYPE_CHECKING:
    from kmsguard.access import PolicyKind

ACTION = "kms:Decrypt"
ASSUME = "sts:AssumeRole"


def default_key_policy(account: str) -> dict[str, Any]:
    """The policy AWS gives a key created without one: the account's IAM decides."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Enable IAM User Permissions",
                "Effect": "Allow",
                "Principal": {"AWS": account_root_arn(account)},
                "Action": "kms:*",
                "Resource": "*",
            }
        ],
    }


def compile_once(doc: dict[str, Any], kind: PolicyKind, cache: dict[int, Any]) -> Any:
    """The document compiled once per run (many principals share a managed policy).

    A document the evaluator rejects is returned as it is, so that each evaluation still
    reports the error for the principal concerned.
    """
    from kmsguard.access import PolicyDocumentError, parse_policy

    found = cache.get(id(doc))
    if found is None:
        try:
            found = (doc, parse_policy(doc, kind=kind))
        except PolicyDocumentError:
            found = (doc, doc)
        cache[id(doc)] = found  # the document is kept, so its id stays unique
    return found[1]


def identity_docs(p: StackSubject, compiled: dict[int, Any]) -> list[Any]:
    return [compile_once(d.document, "identity", compiled) for d in readable(p)]


def access_path(decision: Any, doc: dict[str, Any] | None, p: StackSubject) -> str:
    """The statements that allowed a decision, named as the user wrote them."""
    sts = {st.index: st for st in statements(doc)} if doc is not None else {}
    given = readable(p)
    via: list[str] = []
    for ref in decision.statements:
        if ref.layer == "trust":
            via.append(f"trust policy {ref.label()}")
        elif ref.layer == "resource":
            st = sts.get(ref.index)
            names = st.principal_names if st is not None else ()
            if names and all(is_account_root(x) for x in names):
                via.append(f"root delegation ({ref.label()})")
            else:
                via.append(f"key policy {ref.label()}")
        elif ref.layer == "identity" and ref.position is not None:
            # The position is among the documents the evaluator was given.
            i = ref.position
            origin = given[i].origin if i < len(given) else ref.policy
            via.append(f"identity policy {origin} ({ref.label()})")
        elif ref.layer == "permissions_boundary" and p.subject.boundary is not None:
            via.append(f"within boundary {p.subject.boundary.origin} ({ref.label()})")
        else:
            via.append(ref.label())
    return " + ".join(via) or decision.reason
