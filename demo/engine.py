"""A stand-in for `pulumi up` without the CLI: SDK mocks that apply each resource to the sandbox.

This is a simulation of the engine, not the engine: it creates on the first run, updates the
same physical resource in place on later runs (a key policy change is PutKeyPolicy on the same
key, as the AWS provider does), answers the program's invokes from the sandbox's STS, and
refuses every resource type the program does not use, by name.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import pulumi

from kmsguard.access.arn import parse_arn, session_role
from kmsguard.contract import COMPONENT_TYPE, AwsType, Invoke

STACK_TYPE = "pulumi:pulumi:Stack"
ClientFactory = Callable[[str], Any]


class UnsupportedResourceError(RuntimeError):
    """The simulation only knows the resource types the kmsguard program registers."""


@dataclass
class Deployed:
    type: str
    name: str
    id: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]


@dataclass
class StackState:
    """What the simulated engine has deployed, in creation order (the engine's checkpoint)."""

    resources: dict[tuple[str, str], Deployed] = field(default_factory=dict)

    def get(self, typ: str, name: str) -> Deployed | None:
        return self.resources.get((typ, name))

    def put(self, item: Deployed) -> None:
        self.resources[(item.type, item.name)] = item


def _tags(tags: dict[str, str] | None, key: str = "Key", value: str = "Value") -> list[dict]:
    return [{key: k, value: v} for k, v in sorted((tags or {}).items())]


def _sse_spec(sse: dict[str, Any] | None) -> dict[str, Any]:
    # Mirrors the provider: disabled = AWS owned key; enabled without ARN = alias/aws/dynamodb.
    if not sse or not sse.get("enabled"):
        return {"Enabled": False}
    spec: dict[str, Any] = {"Enabled": True, "SSEType": "KMS"}
    if sse.get("kmsKeyArn"):
        spec["KMSMasterKeyId"] = sse["kmsKeyArn"]
    return spec


def _alias_arn(key_arn: str, name: str) -> str:
    """The ARN of alias `name` (`alias/...`) in the key's account and region."""
    arn = parse_arn(key_arn)
    if arn is None:
        raise UnsupportedResourceError(f"KMS described the key as {key_arn!r}, not a key ARN")
    return str(replace(arn, resource=name))


class SandboxEngine(pulumi.runtime.Mocks):
    """Pulumi mocks backed by real calls to the sandbox (admin credentials)."""

    SUPPORTED = (
        AwsType.IAM_USER,
        AwsType.IAM_USER_POLICY_ATTACHMENT,
        AwsType.KMS_KEY,
        AwsType.KMS_ALIAS,
        AwsType.DYNAMODB_TABLE,
        AwsType.DYNAMODB_RESOURCE_POLICY,
    )

    def __init__(
        self, client: ClientFactory, region: str, state: StackState, *, preview: bool = False
    ) -> None:
        self.client = client
        self.region = region
        self.state = state
        self.preview = preview
        self.log: list[str] = []
        self._lock = threading.Lock()

    def exists(self, typ: str, name: str) -> bool:
        """Already deployed: the engine-less preview keeps this resource's outputs known."""
        return self.state.get(typ, name) is not None

    # -- invokes -------------------------------------------------------------------------------
    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[Any]]:
        if args.token == Invoke.GET_CALLER_IDENTITY:
            me = self.client("sts").get_caller_identity()
            return {
                "accountId": me["Account"],
                "arn": me["Arn"],
                "userId": me["UserId"],
                "id": me["Account"],
            }, []
        if args.token == Invoke.GET_REGION:
            return {"name": self.region, "region": self.region, "id": self.region}, []
        if args.token == Invoke.GET_SESSION_CONTEXT:
            arn = str(args.args.get("arn", ""))
            issuer = session_role(arn) or arn
            return {"arn": arn, "issuerArn": issuer, "id": arn}, []
        raise UnsupportedResourceError(f"the engine simulation does not answer invoke {args.token}")

    # -- resources -----------------------------------------------------------------------------
    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict]:
        inputs = dict(args.inputs)
        if args.typ in (COMPONENT_TYPE, STACK_TYPE):
            return f"{args.name}", inputs
        if args.typ not in self.SUPPORTED:
            raise UnsupportedResourceError(
                f"the engine simulation refuses resource type {args.typ} ({args.name}); "
                f"it applies only {', '.join(self.SUPPORTED)}"
            )
        with self._lock:
            old = self.state.get(args.typ, args.name)
            if self.preview:
                # Like the engine's preview: existing resources keep their outputs, new ones have
                # unknown computed outputs (absent here, so the SDK reports them as unknown).
                return (old.id, {**old.outputs, **inputs}) if old else (None, inputs)
            if old is not None and old.inputs == inputs:
                self.log.append(f"unchanged {args.typ} {args.name}")
                return old.id, old.outputs
            apply = getattr(self, "_apply_" + args.typ.rsplit(":", 1)[-1].lower())
            resource_id, computed = apply(inputs, old)
            verb = "updated" if old else "created"
            self.log.append(f"{verb} {args.typ} {args.name} ({resource_id})")
            deployed = Deployed(args.typ, args.name, resource_id, inputs, {**inputs, **computed})
            self.state.put(deployed)
            return resource_id, deployed.outputs

    def _apply_user(self, inputs: dict[str, Any], old: Deployed | None) -> tuple[str, dict]:
        iam = self.client("iam")
        name = inputs["name"]
        if old is None:
            user = iam.create_user(UserName=name, Tags=_tags(inputs.get("tags")))["User"]
        else:
            if inputs.get("tags"):
                iam.tag_user(UserName=name, Tags=_tags(inputs.get("tags")))
            user = iam.get_user(UserName=name)["User"]
        return name, {"arn": user["Arn"], "uniqueId": user["UserId"], "name": name}

    def _apply_userpolicyattachment(
        self, inputs: dict[str, Any], old: Deployed | None
    ) -> tuple[str, dict]:
        iam = self.client("iam")
        if old and (old.outputs["user"], old.outputs["policyArn"]) != (
            inputs["user"],
            inputs["policyArn"],
        ):
            iam.detach_user_policy(UserName=old.outputs["user"], PolicyArn=old.outputs["policyArn"])
        iam.attach_user_policy(UserName=inputs["user"], PolicyArn=inputs["policyArn"])
        return old.id if old else f"{inputs['user']}-{inputs['policyArn'].rsplit('/', 1)[-1]}", {}

    def _apply_key(self, inputs: dict[str, Any], old: Deployed | None) -> tuple[str, dict]:
        kms = self.client("kms")
        if old is None:
            meta = kms.create_key(
                Policy=inputs["policy"],
                Description=inputs.get("description", ""),
                KeyUsage=inputs.get("keyUsage", "ENCRYPT_DECRYPT"),
                KeySpec=inputs.get("customerMasterKeySpec", "SYMMETRIC_DEFAULT"),
                BypassPolicyLockoutSafetyCheck=bool(inputs.get("bypassPolicyLockoutSafetyCheck")),
                Tags=_tags(inputs.get("tags"), "TagKey", "TagValue"),
            )["KeyMetadata"]
            key_id = meta["KeyId"]
        else:
            key_id = old.id
            if old.outputs.get("policy") != inputs["policy"]:
                kms.put_key_policy(
                    KeyId=key_id,
                    PolicyName="default",
                    Policy=inputs["policy"],
                    BypassPolicyLockoutSafetyCheck=bool(
                        inputs.get("bypassPolicyLockoutSafetyCheck")
                    ),
                )
            if old.outputs.get("description") != inputs.get("description"):
                kms.update_key_description(KeyId=key_id, Description=inputs.get("description", ""))
        if inputs.get("enableKeyRotation"):
            kms.enable_key_rotation(
                KeyId=key_id, RotationPeriodInDays=int(inputs.get("rotationPeriodInDays", 365))
            )
        else:
            kms.disable_key_rotation(KeyId=key_id)
        if inputs.get("isEnabled", True):
            kms.enable_key(KeyId=key_id)
        else:
            kms.disable_key(KeyId=key_id)
        arn = kms.describe_key(KeyId=key_id)["KeyMetadata"]["Arn"]
        return key_id, {"keyId": key_id, "arn": arn}

    def _apply_alias(self, inputs: dict[str, Any], old: Deployed | None) -> tuple[str, dict]:
        kms = self.client("kms")
        name, target = inputs["name"], inputs["targetKeyId"]
        if old is None:
            kms.create_alias(AliasName=name, TargetKeyId=target)
        elif old.outputs.get("targetKeyId") != target:
            kms.update_alias(AliasName=name, TargetKeyId=target)
        key_arn = kms.describe_key(KeyId=target)["KeyMetadata"]["Arn"]
        alias_arn = _alias_arn(key_arn, name)
        return name, {"arn": alias_arn, "targetKeyArn": key_arn}

    def _apply_table(self, inputs: dict[str, Any], old: Deployed | None) -> tuple[str, dict]:
        ddb = self.client("dynamodb")
        name = inputs["name"]
        sse = _sse_spec(inputs.get("serverSideEncryption"))
        protect = bool(inputs.get("deletionProtectionEnabled"))
        if old is None:
            hash_key = inputs["hashKey"]
            ddb.create_table(
                TableName=name,
                BillingMode=inputs.get("billingMode", "PAY_PER_REQUEST"),
                AttributeDefinitions=[
                    {"AttributeName": a["name"], "AttributeType": a["type"]}
                    for a in inputs["attributes"]
                ],
                KeySchema=[{"AttributeName": hash_key, "KeyType": "HASH"}],
                SSESpecification=sse,
                DeletionProtectionEnabled=protect,
                Tags=_tags(inputs.get("tags")),
            )
        else:
            if _sse_spec(old.outputs.get("serverSideEncryption")) != sse:
                ddb.update_table(TableName=name, SSESpecification=sse)
            if bool(old.outputs.get("deletionProtectionEnabled")) != protect:
                ddb.update_table(TableName=name, DeletionProtectionEnabled=protect)
        pitr = bool((inputs.get("pointInTimeRecovery") or {}).get("enabled"))
        ddb.update_continuous_backups(
            TableName=name,
            PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": pitr},
        )
        arn = ddb.describe_table(TableName=name)["Table"]["TableArn"]
        return name, {"arn": arn, "name": name}

    def _apply_resourcepolicy(
        self, inputs: dict[str, Any], old: Deployed | None
    ) -> tuple[str, dict]:
        ddb = self.client("dynamodb")
        arn = inputs["resourceArn"]
        if old is not None and old.id != arn:
            # A policy moved to another table or stream: the provider replaces the resource.
            ddb.delete_resource_policy(ResourceArn=old.id)
        put = ddb.put_resource_policy(
            ResourceArn=arn,
            Policy=inputs["policy"],
            ConfirmRemoveSelfResourceAccess=bool(inputs.get("confirmRemoveSelfResourceAccess")),
        )
        # The provider's id for the resource is the ARN of the table or stream it is attached to.
        return arn, {"revisionId": put.get("RevisionId", "")}

    # -- destroy -------------------------------------------------------------------------------
    def destroy(self) -> list[str]:
        """Delete everything in reverse creation order (`pulumi destroy`); returns what was done."""
        done: list[str] = []
        iam, kms, ddb = self.client("iam"), self.client("kms"), self.client("dynamodb")
        for item in reversed(list(self.state.resources.values())):
            out = item.outputs
            if item.type == AwsType.DYNAMODB_RESOURCE_POLICY:
                ddb.delete_resource_policy(ResourceArn=item.id)
            elif item.type == AwsType.DYNAMODB_TABLE:
                if out.get("deletionProtectionEnabled"):
                    ddb.update_table(TableName=item.id, DeletionProtectionEnabled=False)
                ddb.delete_table(TableName=item.id)
            elif item.type == AwsType.KMS_ALIAS:
                kms.delete_alias(AliasName=item.id)
            elif item.type == AwsType.KMS_KEY:
                window = int(out.get("deletionWindowInDays", 30))
                kms.schedule_key_deletion(KeyId=item.id, PendingWindowInDays=window)
            elif item.type == AwsType.IAM_USER_POLICY_ATTACHMENT:
                iam.detach_user_policy(UserName=out["user"], PolicyArn=out["policyArn"])
            elif item.type == AwsType.IAM_USER:
                # forceDestroy: remove access keys someone added, as the provider does.
                for key in iam.list_access_keys(UserName=item.id)["AccessKeyMetadata"]:
                    iam.delete_access_key(UserName=item.id, AccessKeyId=key["AccessKeyId"])
                iam.delete_user(UserName=item.id)
            done.append(f"deleted {item.type} {item.name}")
            del self.state.resources[(item.type, item.name)]
        return done
