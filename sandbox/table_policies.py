"""The resource-based policies DynamoDB attaches to tables: which one applies to a request."""

from __future__ import annotations

from typing import Any

from moto.dynamodb.models import DynamoDBBackend, dynamodb_backends

from kmsguard.access.dynamodb_reads import policy_holder
from sandbox.settings import ACCOUNT_ID


def policy_for(region: str, resource: str) -> str | None:
    """The policy document of the table (for the table and its indexes) or stream `resource`
    names; None when it has none."""
    holder = policy_holder(resource)
    if holder is None:
        return None
    policy = dynamodb_backends[ACCOUNT_ID][region].resource_policies.get(holder)
    return None if policy is None else str(policy.policy_doc)


def drop_policies_with_tables() -> None:
    """Deleting a table deletes its policy, as in AWS: a table created later under the same
    name must not inherit the policy of the one deleted."""
    delete_table = DynamoDBBackend.delete_table
    if getattr(delete_table, "drops_policies", False):
        return

    def delete_with_policy(self: Any, name: str) -> Any:
        table = delete_table(self, name)
        arn = str(getattr(table, "table_arn", ""))
        for held in [a for a in self.resource_policies if a == arn or a.startswith(arn + "/")]:
            del self.resource_policies[held]
        return table

    delete_with_policy.drops_policies = True  # type: ignore[attr-defined]
    DynamoDBBackend.delete_table = delete_with_policy  # type: ignore[method-assign]
