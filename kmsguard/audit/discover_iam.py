"""Read-only discovery of one account's IAM: users, groups, roles and the policies they use."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from kmsguard.access.arn import managed_policy_name
from kmsguard.access.authorization_details import LISTED, merge_pages, referenced_policies
from kmsguard.audit.inventory import Calls, Inventory
from kmsguard.contract import account_root_arn

Clients = Callable[[str, str], Any]  # (service, region) -> a boto3 client
Progress = Callable[[str, int, int], None]  # (phase, done, total)


def discover_iam(inv: Inventory, clients: Clients, region: str, progress: Progress) -> None:
    calls = Calls(inv)
    iam = clients("iam", region)
    progress("iam", 0, 1)
    try:
        pages = iam.get_paginator("get_account_authorization_details").paginate(Filter=list(LISTED))
        merged = merge_pages(pages, lambda: calls.count("iam:GetAccountAuthorizationDetails"))
    except (ClientError, BotoCoreError) as exc:
        calls.refused(
            account_root_arn(inv.account, inv.partition),
            "iam:GetAccountAuthorizationDetails",
            exc,
        )
        progress("iam", 1, 1)
        return
    inv.iam = merged
    _aws_policies(inv, iam, calls)
    progress("iam", 1, 1)


def _aws_policies(inv: Inventory, iam: Any, calls: Calls) -> None:
    """The documents of the AWS managed policies in use, for the per-table proof (the pack has
    its own catalog): GetAccountAuthorizationDetails once more, for AWS managed policies only,
    and only when one is in use."""
    assert inv.iam is not None
    # AWS managed policies attached to an entity or used as a boundary.
    wanted = {a for a in referenced_policies(inv.iam) if managed_policy_name(a)}
    if not wanted:
        return
    try:
        for page in iam.get_paginator("get_account_authorization_details").paginate(
            Filter=["AWSManagedPolicy"]
        ):
            calls.count("iam:GetAccountAuthorizationDetails")
            for p in page.get("Policies", []):
                if p.get("Arn") in wanted:
                    versions = p.get("PolicyVersionList") or []
                    doc = next(
                        (v.get("Document") for v in versions if v.get("IsDefaultVersion")), None
                    )
                    inv.aws_policies[str(p["Arn"])] = doc
    except (ClientError, BotoCoreError) as exc:
        calls.refused(
            account_root_arn(inv.account, inv.partition),
            "iam:GetAccountAuthorizationDetails",
            exc,
        )
