"""The finite universe of a query: the key, the actions, the accounts, the services, the sides."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from kmsguard.access.arn import account_of, is_key_arn, key_arn, named_accounts
from kmsguard.access.catalog import catalog, expand_actions
from kmsguard.access.policy import Policy

KINDS = ("root", "user", "role", "session", "service")
ROOT, USER, ROLE, SESSION, SERVICE = range(5)
OTHER_SERVICE = "service.amazonaws.com"
# Keys whose value follows from the principal kind, its account and the service source flag.
FINITE_KEYS = frozenset(
    {
        "aws:principalaccount",
        "kms:calleraccount",
        "aws:principaltype",
        "aws:principalisawsservice",
        "aws:resourceaccount",
        "aws:sourceaccount",
        "aws:sourceowner",
    }
)
# Keys AWS sets from the request's time: one clock for the request, stated as a window.
CLOCK_KEYS = frozenset({"aws:currenttime", "aws:epochtime"})
# Keys read off the principal's own variables (its ARN, its name), never a slot of values.
STRING_KEYS = frozenset({"aws:principalarn", "aws:username"})
# Finite keys holding an account id: tested on the symbolic account id (wildcards exactly).
ACCOUNT_KEYS = frozenset(
    {"kms:calleraccount", "aws:principalaccount", "aws:sourceaccount", "aws:sourceowner"}
)
DEFAULT_REGION = "us-east-1"
KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"  # AWS's documentation example key id


class Unsupported(Exception):
    """A policy construct the prover does not model: the query's answer is `unknown`."""


@dataclass(frozen=True)
class Universe:
    """The finite parts of a query: the key, the actions, the accounts and the services."""

    key_arn: str
    key_account: str
    actions: tuple[str, ...]
    accounts: tuple[str, ...]  # the last one stands for every account not mentioned
    services: tuple[str, ...]  # the last one stands for every service not mentioned
    # The request time (epoch seconds, inclusive): AWS sets aws:CurrentTime from it.
    window: tuple[int, int] = (0, 0)

    @property
    def other_account(self) -> str:
        return self.accounts[-1]


def kms_actions(patterns: Sequence[str] | None, policies: Iterable[Policy]) -> tuple[str, ...]:
    """The actions a query ranges over: the given ones, else every KMS action (catalog + named)."""
    if patterns:
        out: set[str] = set()
        for p in patterns:
            out.update(expand_actions(p) if ("*" in p or "?" in p) else [p])
        return tuple(sorted(out))
    names = set(catalog().get("kms", {}).values())
    known = {n.lower() for n in names}
    for pol in policies:
        for st in pol.statements:
            for _, a in st.action_paths:
                literal = "*" not in a and "?" not in a
                if literal and a.lower().startswith("kms:") and a.lower() not in known:
                    names.add(a)
                    known.add(a.lower())
    return tuple(sorted(names))


def make_universe(
    key_arn: str,
    policies: Sequence[Policy],
    actions: Sequence[str] | None = None,
    extra_text: Iterable[str] = (),
    window: tuple[int, int] = (0, 0),
) -> Universe:
    """Collect the accounts and services that the policies (and `extra_text`) mention."""
    key_account = account_of(key_arn) or ""
    accounts = {key_account}
    services: set[str] = set()
    for pol in policies:
        accounts.update(named_accounts(pol.source))
        for st in pol.statements:
            if st.principal is not None:
                services.update(o for o in st.principal.others if _is_service(o))
    for text in extra_text:
        accounts.update(named_accounts(text))
        if _is_service(text):
            services.add(text)
    other = next(
        a for a in (str(999999999999 - i) for i in range(len(accounts) + 1)) if a not in accounts
    )
    return Universe(
        key_arn,
        key_account,
        kms_actions(actions, policies),
        (*sorted(accounts), other),
        (*sorted(services), OTHER_SERVICE),
        window,
    )


def _is_service(text: str) -> bool:
    return text.endswith(".amazonaws.com") or text.endswith(".amazonaws.com.cn")


@dataclass(frozen=True)
class Side:
    """One set of policies: the key policy and the identity policies of the principals known."""

    key_policy: Policy
    identities: Mapping[str, Sequence[Policy]] = field(default_factory=dict)
    # Accounts whose every identity policy is in `identities`: nobody else there is allowed by IAM.
    closed_accounts: frozenset[str] = frozenset()
    # The organization's resource control policies over the key, one per level: each must allow.
    rcps: tuple[Policy, ...] = ()


@dataclass(frozen=True)
class Key:
    """The key a policy guards: its ARN fixes the owning account (same- vs cross-account)."""

    arn: str

    def __post_init__(self) -> None:
        if not is_key_arn(self.arn):
            raise ValueError(
                f"{self.arn!r} is not a KMS key ARN (arn:<partition>:kms:<region>:<account>:"
                "key/<id>)"
            )

    @staticmethod
    def in_account(account: str, region: str = DEFAULT_REGION) -> Key:
        return Key(key_arn(account, KEY_ID, region))

    @property
    def account(self) -> str:
        return account_of(self.arn) or ""


def sample_principal(kind: int, account: str, name: str, session: str, service: str) -> str:
    """The principal of `kind` as the evaluator sees it: an ARN, or a service's name."""
    if kind == ROOT:
        return f"arn:aws:iam::{account}:root"
    if kind == USER:
        return f"arn:aws:iam::{account}:user/{name}"
    if kind == ROLE:
        return f"arn:aws:iam::{account}:role/{name}"
    if kind == SESSION:
        return f"arn:aws:sts::{account}:assumed-role/{name}/{session}"
    return service
