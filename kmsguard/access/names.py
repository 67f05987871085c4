"""IAM names as AWS compares them: user and role names are case-insensitive."""

from __future__ import annotations

from functools import lru_cache

from kmsguard.access.arn import arn_fields


@lru_cache(maxsize=8192)
def fold_principal(arn: str) -> str:
    """One spelling per IAM identity: user/role names (with paths) and a session's role name folded.

    IAM refuses two users (or roles) whose names differ only by case, so `user/Alice` and
    `user/alice` name the same user wherever a policy names a principal. Session names and
    everything else stay as written.
    """
    parts = arn_fields(arn)
    if parts is None or parts[0] != "arn":
        return arn
    service, res = parts[2], parts[5]
    if service == "iam" and (res.startswith("user/") or res.startswith("role/")):
        kind, _, name = res.partition("/")
        return ":".join(parts[:5]) + f":{kind}/{name.lower()}"
    if service == "sts" and res.startswith("assumed-role/"):
        segs = res.split("/", 2)
        if len(segs) == 3:
            return ":".join(parts[:5]) + f":assumed-role/{segs[1].lower()}/{segs[2]}"
    return arn
