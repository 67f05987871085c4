"""A key policy's key users and a table's declared readers: one reading for the pack and audit."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache

from kmsguard.access.arn import is_account_id, parse_arn
from kmsguard.access.policy import Statement

DECRYPT = "kms:Decrypt"


@lru_cache(maxsize=4096)  # the same few principals recur in every policy of a stack
def is_account_root(principal: str) -> bool:
    """An account id or an account's root ARN: it delegates to the account's IAM."""
    arn = parse_arn(principal)
    return is_account_id(principal) or (arn is not None and arn.is_account_root)


def decrypt_grantees(sts: Sequence[Statement]) -> set[str]:
    """Principals named in Allow statements granting kms:Decrypt (roots and `*` included).

    Decrypt itself, not any usage action: an administrators' statement covers kms:DescribeKey
    through kms:Describe*, and must not make administrators declared key users.
    """
    return {
        p
        for st in sts
        if st.effect == "Allow" and not st.not_principal and st.covers(DECRYPT)
        for p in st.principal_names
    }


def key_users(sts: Sequence[Statement]) -> list[str]:
    """The principals a key policy names for kms:Decrypt, without everyone and account roots:
    a root delegates to its account's IAM, which declares nobody by itself."""
    return sorted(p for p in decrypt_grantees(sts) if p != "*" and not is_account_root(p))


def declared_readers(users: Iterable[str], extra: Iterable[str], root: str) -> list[str]:
    """Who may read a table on the key: its key users, the extra declared readers and the
    table account's root (`root`, its ARN)."""
    return [*users, *extra, root]
