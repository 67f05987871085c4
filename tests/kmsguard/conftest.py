"""Run the Pulumi program under the SDK's mocks, with a fake AWS identity, and capture results."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi

from kmsguard.contract import AwsType, Invoke

ACCOUNT = "111122223333"
REGION = "eu-west-1"
DEPLOYER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/deployer"
DEPLOYER_SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/deployer/ci-session"
UNKNOWN = object()


class FakeAws(pulumi.runtime.Mocks):
    """Answers the program's invokes and gives created resources realistic ids and ARNs."""

    def __init__(self, *, preview: bool, caller_arn: str = DEPLOYER_SESSION) -> None:
        self.preview = preview
        self.caller_arn = caller_arn
        self.resources: list[pulumi.runtime.MockResourceArgs] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict]:
        self.resources.append(args)
        state = dict(args.inputs)
        if self.preview:
            # The engine knows no id or computed ARN before the resource exists.
            return None, state
        name = args.inputs.get("name", args.name)
        if args.typ == AwsType.KMS_KEY:
            key_id = "1234abcd-12ab-34cd-56ef-1234567890ab"
            state |= {"keyId": key_id, "arn": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{key_id}"}
            return key_id, state
        if args.typ == AwsType.IAM_USER:
            state["arn"] = f"arn:aws:iam::{ACCOUNT}:user/{name}"
        elif args.typ == AwsType.DYNAMODB_TABLE:
            state["arn"] = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"
        elif args.typ == AwsType.KMS_ALIAS:
            state["arn"] = f"arn:aws:kms:{REGION}:{ACCOUNT}:{name}"
        return f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list]:
        if args.token == Invoke.GET_CALLER_IDENTITY:
            return {
                "accountId": ACCOUNT,
                "arn": self.caller_arn,
                "id": ACCOUNT,
                "userId": "AROA",
            }, []
        if args.token == Invoke.GET_REGION:
            return {"name": REGION, "region": REGION, "id": REGION}, []
        if args.token == Invoke.GET_SESSION_CONTEXT:
            arn = args.args["arn"]
            issuer = DEPLOYER_ROLE if arn == DEPLOYER_SESSION else arn
            return {"arn": arn, "issuerArn": issuer, "id": arn}, []
        raise AssertionError(f"unexpected invoke {args.token}")


@dataclass
class Run:
    outputs: dict[str, Any]
    resources: list[pulumi.runtime.MockResourceArgs] = field(default_factory=list)

    def of_type(self, typ: str) -> list[pulumi.runtime.MockResourceArgs]:
        return [r for r in self.resources if r.typ == typ]

    def one(self, typ: str) -> pulumi.runtime.MockResourceArgs:
        found = self.of_type(typ)
        assert len(found) == 1, f"expected one {typ}, got {len(found)}"
        return found[0]


def run_program(
    config: dict[str, Any] | None = None,
    *,
    preview: bool = False,
    caller_arn: str = DEPLOYER_SESSION,
    fake: FakeAws | None = None,
) -> Run:
    """Run the program (kmsguard.program.main) through the engine-less recorder with `config`
    (keys without namespace). Unknown outputs come back as UNKNOWN."""
    from kmsguard.preview import collect

    fake = fake or FakeAws(preview=preview, caller_arn=caller_arn)
    run = collect.run_program(
        {k: str(v) for k, v in (config or {}).items()}, preview=preview, mocks=fake
    )
    outputs = {k: UNKNOWN if v == collect.UNKNOWN else v for k, v in run.outputs.items()}
    return Run(outputs=outputs, resources=fake.resources)
