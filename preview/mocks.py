"""Default mocks: AWS-shaped outputs (ARNs, ids) and the invokes the program calls, offline."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pulumi

from kmsguard.contract import AwsType, Invoke

GET_POLICY_DOCUMENT = "aws:iam/getPolicyDocument:getPolicyDocument"


class AwsMocks(pulumi.runtime.Mocks):
    """Deterministic outputs for one account and region."""

    def __init__(
        self,
        account_id: str = "123456789012",
        region: str = "us-east-1",
        caller_arn: str | None = None,
    ) -> None:
        self.account_id = account_id
        self.region = region
        self.caller_arn = caller_arn or f"arn:aws:iam::{account_id}:user/deployer"

    def _computed(self, typ: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
        acct, region = self.account_id, self.region
        pname = inputs.get("name") if isinstance(inputs.get("name"), str) else name
        path = inputs.get("path") if isinstance(inputs.get("path"), str) else "/"
        if typ == AwsType.KMS_KEY:
            key_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{acct}/{region}/{name}"))
            return {"keyId": key_id, "arn": f"arn:aws:kms:{region}:{acct}:key/{key_id}"}
        if typ == AwsType.KMS_ALIAS:
            return {"arn": f"arn:aws:kms:{region}:{acct}:{pname}", "targetKeyArn": ""}
        if typ == AwsType.DYNAMODB_TABLE:
            return {"arn": f"arn:aws:dynamodb:{region}:{acct}:table/{pname}", "name": pname}
        if typ == AwsType.IAM_USER:
            return {
                "arn": f"arn:aws:iam::{acct}:user{path}{pname}",
                "name": pname,
                "uniqueId": "AIDA" + name.upper()[:16],
            }
        if typ == AwsType.IAM_ROLE:
            return {"arn": f"arn:aws:iam::{acct}:role{path}{pname}", "name": pname}
        if typ == AwsType.IAM_GROUP:
            return {"arn": f"arn:aws:iam::{acct}:group{path}{pname}", "name": pname}
        if typ == AwsType.IAM_POLICY:
            return {"arn": f"arn:aws:iam::{acct}:policy{path}{pname}", "name": pname}
        return {}

    def new_resource(
        self, args: pulumi.runtime.MockResourceArgs
    ) -> tuple[str | None, dict[str, Any]]:
        inputs = dict(args.inputs)
        computed = self._computed(args.typ, args.name, inputs)
        return f"{args.name}-id", {
            **computed,
            **inputs,
            **{k: v for k, v in computed.items() if k == "arn"},
        }

    def call(
        self, args: pulumi.runtime.MockCallArgs
    ) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        acct, region = self.account_id, self.region
        if args.token == Invoke.GET_CALLER_IDENTITY:
            return {
                "accountId": acct,
                "arn": self.caller_arn,
                "userId": "AIDADEPLOYER",
                "id": acct,
            }, []
        if args.token == Invoke.GET_REGION:
            return {
                "name": region,
                "region": region,
                "id": region,
                "endpoint": f"ec2.{region}.amazonaws.com",
                "description": region,
            }, []
        if args.token == Invoke.GET_PARTITION:
            return {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws"}, []
        if args.token == Invoke.GET_SESSION_CONTEXT:
            arn = str(args.args.get("arn") or self.caller_arn)
            return {
                "arn": arn,
                "issuerArn": arn,
                "issuerName": arn.rsplit("/", 1)[-1],
                "id": arn,
            }, []
        if args.token == GET_POLICY_DOCUMENT:
            return {"json": policy_document_json(args.args), "id": "policy-document"}, []
        return {}, []


def policy_document_json(args: dict[str, Any]) -> str:
    """What aws.iam.get_policy_document renders for its `statements` argument."""
    out: list[dict[str, Any]] = []
    for st in args.get("statements") or []:
        item: dict[str, Any] = {}
        if st.get("sid"):
            item["Sid"] = st["sid"]
        item["Effect"] = st.get("effect") or "Allow"
        for src, dst in (
            ("actions", "Action"),
            ("notActions", "NotAction"),
            ("resources", "Resource"),
            ("notResources", "NotResource"),
        ):
            vals = st.get(src)
            if vals:
                item[dst] = vals[0] if len(vals) == 1 else sorted(vals, reverse=True)
        for src, dst in (("principals", "Principal"), ("notPrincipals", "NotPrincipal")):
            blocks = st.get(src)
            if blocks:
                principal: dict[str, Any] = {}
                for b in blocks:
                    ids = b.get("identifiers") or []
                    principal[b.get("type", "AWS")] = ids[0] if len(ids) == 1 else ids
                item[dst] = "*" if principal == {"*": "*"} else principal
        conds = st.get("conditions")
        if conds:
            cond: dict[str, Any] = {}
            for c in conds:
                vals = c.get("values") or []
                cond.setdefault(c["test"], {})[c["variable"]] = vals[0] if len(vals) == 1 else vals
            item["Condition"] = cond
        out.append(item)
    return json.dumps({"Version": args.get("version") or "2012-10-17", "Statement": out}, indent=2)
