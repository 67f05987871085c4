"""Default mocks: AWS-shaped outputs (ARNs, ids) and the invokes the program calls, offline."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pulumi

from kmsguard.contract import AwsType, Invoke

GET_POLICY_DOCUMENT = "aws:iam/getPolicyDocument:getPolicyDocument"
# Invokes answered here; any other is answered as unknown by the recording monitor.
ANSWERED = frozenset(
    {
        Invoke.GET_CALLER_IDENTITY,
        Invoke.GET_REGION,
        Invoke.GET_PARTITION,
        Invoke.GET_SESSION_CONTEXT,
        GET_POLICY_DOCUMENT,
    }
)


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

    def answers(self, token: str) -> bool:
        """Whether `call` knows this invoke; the monitor answers any other as unknown."""
        return token in ANSWERED

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


def _one_or_many(values: list[Any]) -> Any:
    return values[0] if len(values) == 1 else values


def _statement(st: dict[str, Any]) -> dict[str, Any]:
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
            item[dst] = vals[0] if len(vals) == 1 else sorted(set(vals), reverse=True)
    for src, dst in (("principals", "Principal"), ("notPrincipals", "NotPrincipal")):
        blocks = st.get(src)
        if blocks:
            # Blocks of the same type merge, as the provider does.
            merged: dict[str, list[str]] = {}
            for b in blocks:
                ids = b.get("identifiers") or []
                merged.setdefault(b.get("type", "AWS"), []).extend(ids)
            principal = {t: _one_or_many(sorted(set(ids))) for t, ids in merged.items()}
            item[dst] = "*" if principal == {"*": "*"} else principal
    conds = st.get("conditions")
    if conds:
        cond: dict[str, Any] = {}
        for c in conds:
            vals = c.get("values") or []
            cond.setdefault(c["test"], {})[c["variable"]] = _one_or_many(vals)
        item["Condition"] = cond
    return item


def _documents(values: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for text in values or []:
        try:
            doc = json.loads(text) if isinstance(text, str) else None
        except json.JSONDecodeError:
            doc = None
        if isinstance(doc, dict):
            sts = doc.get("Statement")
            out.extend(s for s in (sts if isinstance(sts, list) else [sts]) if isinstance(s, dict))
    return out


def _merge_by_sid(base: list[dict[str, Any]], more: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = list(base)
    for st in more:
        sid = st.get("Sid")
        same = [i for i, old in enumerate(out) if sid and old.get("Sid") == sid]
        if same:
            out[same[0]] = st
        else:
            out.append(st)
    return out


def policy_document_json(args: dict[str, Any]) -> str:
    """What aws.iam.get_policy_document renders: source documents, then `statements`
    (same Sid replaces), then override documents (same Sid replaces)."""
    statements = _documents(args.get("sourcePolicyDocuments"))
    statements = _merge_by_sid(statements, [_statement(st) for st in args.get("statements") or []])
    statements = _merge_by_sid(statements, _documents(args.get("overridePolicyDocuments")))
    doc: dict[str, Any] = {"Version": args.get("version") or "2012-10-17"}
    if args.get("policyId"):
        doc["Id"] = args["policyId"]
    doc["Statement"] = statements
    return json.dumps(doc, indent=2)
