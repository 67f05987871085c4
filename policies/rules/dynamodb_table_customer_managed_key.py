"""dynamodb-table-customer-managed-key: tables use an explicit customer managed key."""

from __future__ import annotations

from pulumi_policy import EnforcementLevel, ReportViolation, Severity, StackValidationArgs

from kmsguard.access.arn import account_of, is_reserved_alias
from kmsguard.contract import AwsType
from policies.meta import Control, Findings, RuleMeta, config_of, stack_policy, str_list
from policies.rules._common import AWS_CONFIG
from policies.stack.graph import Node, StackView
from policies.stack.keys import KeyRef, stack_keys
from policies.values import Unknown, as_bool, get, is_unknown

META = RuleMeta(
    name="dynamodb-table-customer-managed-key",
    description=(
        "DynamoDB tables and table replicas (aws.dynamodb.TableReplica) enable server-side "
        "encryption with an explicit customer managed KMS key: "
        "not the AWS owned key, not alias/aws/dynamodb by name or alias ARN, "
        "not another account's key unless allow-listed."
    ),
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    remediation=(
        "Set serverSideEncryption={enabled: true, kmsKeyArn: <customer managed key>.arn} on the "
        "table and kmsKeyArn on each aws.dynamodb.TableReplica (a key in the replica's region), "
        "using a key declared in this stack (or an allow-listed cross-account key ARN)."
    ),
    no_remediation=(
        "which customer managed key encrypts a table is the author's choice, and changing it "
        "re-encrypts the table"
    ),
    controls=(Control(AWS_CONFIG, "dynamodb-table-encrypted-kms"),),
    config={
        "allowedCrossAccountKeyArns": {
            "type": "array",
            "items": {"type": "string"},
            "default": [],
            "description": "Key ARNs of other accounts that tables may use.",
        }
    },
    codes={
        "sse-unknown": "serverSideEncryption.enabled is unknown during preview (deferred)",
        "sse-disabled": "server-side encryption is off, so an AWS owned key is used",
        "replicas-unknown": "a table's replicas are unknown during preview (deferred)",
        "key-unknown": "the key is unknown and depends on no key in the stack (deferred)",
        "aws-managed-key": "no kmsKeyArn, or an alias/aws/ key: the AWS managed key",
        "cross-account-key": "another account's key, not in allowedCrossAccountKeyArns",
        "key-outside-stack": "a key not declared in the stack, checked when deployed (deferred)",
    },
)


def _check_replicas(table: Node, where: str, findings: Findings) -> None:
    """Each replica names its own key; without one it uses alias/aws/dynamodb in its region."""
    replicas = get(table.props, "replicas")
    if isinstance(replicas, Unknown):
        findings.defer(
            META.finding("replicas-unknown", where, "replicas are unknown during preview")
        )
        return
    for i, replica in enumerate(replicas if isinstance(replicas, list) else []):
        if not isinstance(replica, dict):
            continue
        region = replica.get("regionName") or f"#{i}"
        arn = replica.get("kmsKeyArn")
        if is_unknown(arn):
            findings.defer(
                META.finding(
                    "key-unknown",
                    where,
                    f"kmsKeyArn of the replica in {region} is unknown",
                    {"replica": region},
                )
            )
        elif not isinstance(arn, str) or not arn:
            findings.violation(
                META.finding(
                    "aws-managed-key",
                    where,
                    f"replica in {region} has no kmsKeyArn, so it uses the AWS managed key "
                    "alias/aws/dynamodb",
                    {"replica": region, "kmsKeyArn": None},
                    urn=table.urn,
                )
            )
        elif is_reserved_alias(arn):
            findings.violation(
                META.finding(
                    "aws-managed-key",
                    where,
                    f"replica in {region} uses {arn!r}, an AWS managed key",
                    {"replica": region, "kmsKeyArn": arn},
                    urn=table.urn,
                )
            )


def _check_ref(
    view: StackView, ref: KeyRef, where: str, urn: str, allowed: list[str], findings: Findings
) -> None:
    value = ref.value
    if is_reserved_alias(value):
        # Even when an alias of that name is declared in the stack: AWS reserves alias/aws/.
        findings.violation(
            META.finding(
                "aws-managed-key",
                where,
                f"kmsKeyArn {value!r} is an AWS managed key",
                {"kmsKeyArn": value},
                urn=urn,
            )
        )
        return
    if ref.node is not None:
        return  # a key declared in this stack: customer managed by construction
    if isinstance(value, Unknown):
        findings.defer(
            META.finding(
                "key-unknown",
                where,
                "kmsKeyArn is unknown during preview and depends on no aws:kms/key:Key in the "
                "stack",
            )
        )
    elif not value:
        findings.violation(
            META.finding(
                "aws-managed-key",
                where,
                "no kmsKeyArn, so DynamoDB uses the AWS managed key alias/aws/dynamodb",
                {"kmsKeyArn": None},
                urn=urn,
            )
        )
    elif value in allowed:
        return
    elif account_of(value) and view.account_id and account_of(value) != view.account_id:
        findings.violation(
            META.finding(
                "cross-account-key",
                where,
                f"kmsKeyArn {value!r} belongs to account {account_of(value)}, not "
                f"{view.account_id}, and is not in allowedCrossAccountKeyArns",
                {
                    "kmsKeyArn": value,
                    "keyAccount": account_of(value),
                    "stackAccount": view.account_id,
                },
                urn=urn,
            )
        )
    else:
        findings.defer(
            META.finding(
                "key-outside-stack",
                where,
                f"key {value!r} is not declared in this stack; whether it is customer managed "
                "is checked against the deployed key",
                {"kmsKeyArn": value},
            )
        )


def validate(args: StackValidationArgs, report: ReportViolation) -> None:
    findings = Findings(report, META)
    view = StackView.shared(args.resources)
    allowed = str_list(config_of(META, args)["allowedCrossAccountKeyArns"])
    for table in view.of_type(AwsType.DYNAMODB_TABLE):
        where = f"Table {table.name!r}"
        enabled = as_bool(get(table.props, "serverSideEncryption", "enabled"))
        if isinstance(enabled, Unknown):
            findings.defer(
                META.finding(
                    "sse-unknown", where, "serverSideEncryption.enabled is unknown during preview"
                )
            )
            continue
        if not enabled:
            findings.violation(
                META.finding(
                    "sse-disabled",
                    where,
                    "server-side encryption is not enabled, so DynamoDB uses an AWS owned key",
                    {"enabled": enabled},
                    urn=table.urn,
                )
            )
            continue
        _check_replicas(table, where, findings)
        _check_ref(view, stack_keys(view).table_key(table), where, table.urn, allowed, findings)
    for replica in view.of_type(AwsType.DYNAMODB_TABLE_REPLICA):
        # A TableReplica without kmsKeyArn is encrypted with alias/aws/dynamodb in its region.
        where = f"TableReplica {replica.name!r}"
        ref = stack_keys(view).key_ref(replica, ("kmsKeyArn",))
        _check_ref(view, ref, where, replica.urn, allowed, findings)
    findings.finish()


POLICY = stack_policy(META, validate)
