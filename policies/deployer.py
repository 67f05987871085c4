"""The deploying AWS account as the stack's provider declares it, never guessed from principals."""

from __future__ import annotations

import json
from typing import Any

from kmsguard.access.arn import is_account_id, key_account, parse_arn
from policies.values import is_unknown, plain


def _parsed(value: Any) -> Any:
    # The engine hands provider config over as given in the stack config: lists and objects
    # may still be JSON text.
    if isinstance(value, str) and value[:1] in ("[", "{"):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


def provider_account(provider_props: Any) -> str:
    """The one account the AWS provider may deploy to, or "" when it does not say.

    `allowedAccountIds` with exactly one account names it (the provider refuses any other);
    otherwise the account of the role in `assumeRole` (or the last of `assumeRoles`): the
    provider deploys as that role, so in its account. Several allowed accounts or unknown
    values say nothing.
    """
    props = plain(provider_props)
    if not isinstance(props, dict):
        return ""
    allowed = _parsed(props.get("allowedAccountIds"))
    if isinstance(allowed, str):
        allowed = [allowed]
    if isinstance(allowed, list):
        accounts = {a.strip() for a in allowed if isinstance(a, str) and not is_unknown(a)}
        if len(accounts) == 1 and all(is_account_id(a) for a in accounts):
            return accounts.pop()
        if accounts:
            return ""
    # A chain of roles deploys as its last one.
    roles = _parsed(props.get("assumeRoles"))
    role = roles[-1] if isinstance(roles, list) and roles else _parsed(props.get("assumeRole"))
    role = _parsed(role)
    arn = role.get("roleArn") if isinstance(role, dict) else None
    parsed = parse_arn(arn)
    if parsed is None or parsed.service != "iam" or not parsed.resource.startswith("role/"):
        return ""
    return parsed.account if len(parsed.resource) > len("role/") else ""


def deploying_account(args: Any) -> str:
    """The deploying account from the resource's provider (ResourceValidationArgs or
    PolicyResource), or ""."""
    provider = getattr(args, "provider", None)
    return provider_account(provider.props) if provider is not None else ""


def key_account_of(props: dict[str, Any], args: Any) -> str:
    """The account of the key whose properties are `props`: its ARN (or a key ARN as `keyId`),
    else the deploying account, else "" (unknown)."""
    return key_account((props.get("arn"), props.get("keyId")), deploying_account(args))
