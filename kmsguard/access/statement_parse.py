"""Checking one statement of a policy document and building its `Statement` (strict or lenient)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from kmsguard.access.clauses import lenient_clauses
from kmsguard.access.conditions import check_condition
from kmsguard.access.errors import PolicyDocumentError
from kmsguard.access.matching import _compile_globs
from kmsguard.access.policy_elements import element_strings, kind_of, one_of, quick_strings, texts
from kmsguard.access.policy_model import PolicyKind
from kmsguard.access.principal_element import compile_principal, lenient_principal, quick_principal
from kmsguard.access.statement import Statement, new_statement

_STMT_KEYS = (
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
)


_STMT_SET = frozenset(_STMT_KEYS)


_ACTION = re.compile(r"[A-Za-z0-9*?_-]+:[A-Za-z0-9*?_-]+")


def quick_statement(
    index: int, st: Any, single: bool, kind: PolicyKind, variables: bool
) -> Statement | None:
    """The common statement (plain dicts, lists and strings) checked without building paths;
    None whenever `read_statement` must look, which it does with the same rules and says what
    is wrong."""
    if st.__class__ is not dict or not st.keys() <= _STMT_SET:
        return None
    sid = st.get("Sid")
    if sid is not None and sid.__class__ is not str:
        return None
    effect = st.get("Effect")
    if effect.__class__ is not str or (effect != "Allow" and effect != "Deny"):
        return None
    if "Action" in st:
        if "NotAction" in st:
            return None
        actions = quick_strings(st["Action"])
    else:
        actions = quick_strings(st.get("NotAction"))
    if actions is None:
        return None
    for a in actions:
        if a != "*" and not _ACTION.fullmatch(a):
            return None
    if kind == "trust":
        if "Resource" in st or "NotResource" in st:
            return None
        resources: tuple[str, ...] | None = ("*",)
    elif "Resource" in st:
        if "NotResource" in st:
            return None
        resources = quick_strings(st["Resource"])
    else:
        resources = quick_strings(st.get("NotResource"))
    if resources is None:
        return None
    for r in resources:
        if r != "*" and not r.startswith("arn:"):
            return None
    not_principal = False
    if kind == "identity":
        if "Principal" in st or "NotPrincipal" in st:
            return None
    elif "Principal" in st:
        if "NotPrincipal" in st or not quick_principal(st["Principal"]):
            return None
    elif not quick_principal(st.get("NotPrincipal")):
        return None
    else:
        not_principal = True
    path = "Statement" if single else f"Statement[{index}]"
    plain = True
    if "Condition" in st:
        plain = check_condition(st["Condition"], f"{path}.Condition")
    return new_statement(
        index,
        sid,
        effect,
        "Action" not in st,
        kind != "trust" and "Resource" not in st,
        not_principal,
        actions,
        resources,
        st,
        path,
        variables,
        plain,
    )


def read_statement(index: int, st: Any, path: str, kind: PolicyKind, variables: bool) -> Statement:
    if st.__class__ is not dict and not isinstance(st, Mapping):
        raise PolicyDocumentError(path, f"a statement must be an object, not {kind_of(st)}")
    for key in st if not st.keys() <= _STMT_SET else ():
        if key not in _STMT_KEYS:
            raise PolicyDocumentError(
                f"{path}.{key}", f"unknown statement key; allowed: {', '.join(_STMT_KEYS)}"
            )
    sid = st.get("Sid")
    if sid is not None and not isinstance(sid, str):
        raise PolicyDocumentError(f"{path}.Sid", "must be a string")
    if "Effect" not in st:
        raise PolicyDocumentError(f"{path}.Effect", "missing; allowed: Allow, Deny")
    effect = st["Effect"]
    if effect not in ("Allow", "Deny"):
        raise PolicyDocumentError(f"{path}.Effect", f"{effect!r} is not Allow or Deny")

    akey, araw = one_of(st, "Action", "NotAction", path)
    actions = element_strings(araw, f"{path}.{akey}", akey)
    for p, a in actions:
        if a != "*" and not _ACTION.fullmatch(a):
            raise PolicyDocumentError(p, f"{a!r} is not 'service:Action' or '*'")

    if kind == "trust":
        # IAM refuses Resource in a trust policy ("Has prohibited field Resource"): the role
        # the policy is attached to is the resource.
        for key in ("Resource", "NotResource"):
            if key in st:
                raise PolicyDocumentError(
                    f"{path}.{key}", f"a role trust policy must not have {key}"
                )
        rkey, rraw = "Resource", "*"
    else:
        rkey, rraw = one_of(st, "Resource", "NotResource", path)
    resource_pairs = element_strings(rraw, f"{path}.{rkey}", rkey)
    for p, r in resource_pairs:
        if r != "*" and not r.startswith("arn:"):
            raise PolicyDocumentError(p, f"{r!r} is not an ARN or '*'")

    not_principal = False
    if kind == "identity":
        for key in ("Principal", "NotPrincipal"):
            if key in st:
                raise PolicyDocumentError(
                    f"{path}.{key}", f"an identity-based policy must not have {key}"
                )
    else:
        pkey, praw = one_of(st, "Principal", "NotPrincipal", path)
        compile_principal(praw, f"{path}.{pkey}", build=False)
        not_principal = pkey == "NotPrincipal"

    plain = True
    if "Condition" in st:
        plain = check_condition(st["Condition"], f"{path}.Condition")

    return new_statement(
        index,
        sid,
        effect,
        akey == "NotAction",
        rkey == "NotResource",
        not_principal,
        tuple([a for _, a in actions]),
        tuple([r for _, r in resource_pairs]),
        st,
        path,
        variables,
        plain,
    )


def lenient_statement(
    index: int, st: Mapping[str, Any], path: str, kind: PolicyKind, variables: bool
) -> Statement:
    """A malformed statement as far as it reads: odd elements read as nothing, and its
    conditions and principal are only listed (the policy holding it is never evaluated)."""
    sid, effect = st.get("Sid"), st.get("Effect")
    not_actions = texts(st.get("NotAction"))
    actions = not_actions or texts(st.get("Action"))
    if kind == "trust":
        resources: tuple[str, ...] = ("*",)
    else:
        resources = texts(st.get("Resource", st.get("NotResource")))
    not_principal = "NotPrincipal" in st
    built = new_statement(
        index,
        str(sid) if sid else None,
        effect if isinstance(effect, str) else "",
        bool(not_actions),
        kind != "trust" and "NotResource" in st and "Resource" not in st,
        not_principal,
        actions,
        resources,
        st,
        path,
        variables,
        False,
    )
    put = object.__setattr__
    put(built, "dynamic_resources", ())
    put(built, "resources", _compile_globs(resources, False))
    element = st.get("NotPrincipal" if not_principal else "Principal")
    put(built, "principal", None if kind == "identity" else lenient_principal(element))
    put(built, "conditions", ())
    put(built, "condition", None)
    put(built, "_action_paths", tuple((path, a) for a in actions))
    put(built, "_clauses", lenient_clauses(st.get("Condition")))
    built.principal_names, built.conditioned  # noqa: B018  # read now, while `st` is as given
    put(built, "__class__", Statement)
    return built
