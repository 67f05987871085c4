"""The stack's principals as the rules judge them: which an action may reach, what they hold."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from typing import Any

from kmsguard.access.arn import account_of
from policies.document import allows, statements
from policies.stack.principals import StackSubject


class PrincipalReach:
    """Which principals an identity policy could let perform one action, indexed by resource.

    Built once per stack: a principal whose policies cannot allow the action is never offered
    to a key; one whose Allow statements name exact resources is offered only to the keys
    those resources identify.
    """

    def __init__(self, principals: Sequence[StackSubject], action: str) -> None:
        self.principals = list(principals)
        self._pos = {id(p): i for i, p in enumerate(principals)}
        self.everywhere: list[StackSubject] = []  # reach unknown, or any resource
        self._by_resource: dict[str, list[StackSubject]] = {}
        self._by_arn: dict[str, list[StackSubject]] = {}
        self._by_account: dict[str, list[StackSubject]] = {}
        # The principals' ARNs, lower-cased, read by every key's check: made once per stack.
        self.arns: frozenset[str] = frozenset(
            p.subject.arn.lower() for p in principals if p.subject.arn
        )
        for p in principals:
            arn = p.subject.arn
            if arn is not None:
                self._by_arn.setdefault(arn.lower(), []).append(p)
                account = account_of(arn)
                if account:
                    self._by_account.setdefault(account, []).append(p)
            reach = _reach(p, action)
            if reach is None:
                continue
            if reach is _ANYWHERE:
                self.everywhere.append(p)
                continue
            for resource in reach:
                self._by_resource.setdefault(resource.lower(), []).append(p)
        # Made once: see arns_for_resource.
        self.everywhere_arns = frozenset(a for p in self.everywhere if (a := p.subject.arn))

    def for_resource(self, identifiers: Iterable[str], named: Iterable[str]) -> list[StackSubject]:
        """Principals that may reach a resource known by these identifiers, plus those named.

        Resources are compared case-insensitively: a superset, never a miss.
        """
        found = {id(p): p for p in self.everywhere}
        for ident in identifiers:
            found.update((id(p), p) for p in self._by_resource.get(ident.lower(), ()))
        for arn in named:
            found.update((id(p), p) for p in self.named(arn))
        return sorted(found.values(), key=lambda p: self._pos[id(p)])

    def in_accounts(self, accounts: Iterable[str]) -> list[StackSubject]:
        """The stack's principals (ARN known) that belong to one of these accounts."""
        return [p for a in sorted(set(accounts)) for p in self._by_account.get(a, ())]

    def named(self, arn: str) -> list[StackSubject]:
        """The stack's principals with this ARN (IAM names are case-insensitive)."""
        return self._by_arn.get(arn.lower(), [])


def arns_for_resource(
    reaches: Iterable[PrincipalReach], identifiers: Collection[str], named: Collection[str]
) -> set[str]:
    """The known ARNs of the principals any of these reaches offers the resource, unordered:
    `for_resource` for the rules that want ARNs only, without a list per resource (when most
    principals reach everywhere, every resource is offered all of them)."""
    found: set[str] = set()
    for reach in reaches:
        found |= reach.everywhere_arns
        for ident in identifiers:
            found.update(
                a for p in reach._by_resource.get(ident.lower(), ()) if (a := p.subject.arn)
            )
        for arn in named:
            found.update(a for p in reach.named(arn) if (a := p.subject.arn))
    return found


_ANYWHERE: frozenset[str] = frozenset({"*"})


def _reach(p: StackSubject, action: str) -> frozenset[str] | None:
    """Resources the principal's Allow statements for `action` name exactly.

    None when no statement can allow the action; _ANYWHERE when one reaches unknown or
    patterned resources (wildcards, policy variables, NotResource), or a policy is unknown,
    or the ARN is unknown. A document that is not a policy grants nothing (AWS refuses it).
    """
    if p.subject.arn is None:
        return _ANYWHERE
    out: set[str] = set()
    for d in p.subject.identity_policies:
        if not d.known:
            return _ANYWHERE
        if not isinstance(d.document, dict):
            continue
        for st in statements(d.document):
            if not allows(st) or not st.covers(action):
                continue
            if st.not_resource or not st.resource_patterns:
                return _ANYWHERE
            for r in st.resource_patterns:
                if any(c in r for c in "*?$"):
                    return _ANYWHERE
                out.add(r)
    return frozenset(out) if out else None


def readable(p: StackSubject) -> list[Any]:
    """The principal's identity policies that parsed: those the evaluator is given, in order."""
    return [d for d in p.subject.identity_policies if isinstance(d.document, dict)]


def unknown_reasons(p: StackSubject) -> str:
    """Why the principal's identity policies are not all known now; "" when they are."""
    unknown = [d for d in p.subject.identity_policies if not d.known]
    return ", ".join(d.problem or f"{d.origin} unknown" for d in unknown)


def boundary_of(p: StackSubject) -> dict[str, Any] | None:
    """The principal's permissions boundary document, when it has one that parsed."""
    boundary = p.subject.boundary
    return boundary.document if boundary and isinstance(boundary.document, dict) else None
