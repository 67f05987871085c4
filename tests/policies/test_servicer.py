"""The pack's servicer: the SDK's answers, with each request's resources converted once."""

from __future__ import annotations

import json
from typing import Any

import pulumi_policy.policy as sdk
import pytest
from google.protobuf import struct_pb2
from pulumi.runtime.proto import analyzer_pb2
from pulumi_policy import EnforcementLevel
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from kmsguard.contract import AwsType
from policies import servicer
from policies.meta import PACK_NAME
from policies.rules import POLICIES
from tests.policies.helpers import ACCOUNT, KEY_ARN, USER, key_props

SDK_SERVICER = sdk._PolicyAnalyzerServicer
SECRET_SIG = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270"}
DECRYPT_ALL = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"}],
}


def _struct(data: dict[str, Any]) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    s.update(data)
    return s


def _urn(rtype: str, name: str) -> str:
    return f"urn:pulumi:dev::kmsguard::{rtype}::{name}"


PROVIDER = analyzer_pb2.AnalyzerProviderResource(
    type=AwsType.PROVIDER,
    properties=_struct({"region": "us-east-1", "allowedAccountIds": [ACCOUNT]}),
    urn=_urn(AwsType.PROVIDER, "default"),
    name="default",
)

# (type, name, properties): compliant, violating, unknown during preview, secret, malformed.
RESOURCES: list[tuple[str, str, dict[str, Any]]] = [
    (AwsType.KMS_KEY, "key", {**key_props(), "arn": KEY_ARN, "keyId": "1111-2222"}),
    (AwsType.KMS_KEY, "weak", key_props(enableKeyRotation=False, deletionWindowInDays=7)),
    (AwsType.KMS_KEY, "pending", key_props(policy=UNKNOWN_STRING_VALUE)),
    (AwsType.KMS_KEY, "secret", {**key_props(), "policy": {**SECRET_SIG, "value": "{"}}),
    (AwsType.KMS_KEY_POLICY, "kp", {"keyId": "1111-2222", "policy": "not json"}),
    (
        AwsType.DYNAMODB_TABLE,
        "table",
        {
            "serverSideEncryption": {"enabled": True, "kmsKeyArn": KEY_ARN},
            "pointInTimeRecovery": {"enabled": [UNKNOWN_STRING_VALUE]},
        },
    ),
    (AwsType.DYNAMODB_TABLE, "bare", {}),
    (AwsType.IAM_USER, "app", {"name": "app", "arn": USER}),
    (AwsType.IAM_USER_POLICY, "p", {"user": "app", "policy": json.dumps(DECRYPT_ALL)}),
    (AwsType.IAM_POLICY, "uni\u0301code", {"policy": {"Statement": "\u202e"}, "n": 1e308}),
]


def _request(rtype: str, name: str, props: dict[str, Any], provider: bool) -> Any:
    request = analyzer_pb2.AnalyzeRequest(
        type=rtype, properties=_struct(props), urn=_urn(rtype, name), name=name
    )
    if provider:
        request.provider.CopyFrom(PROVIDER)
    return request


def _stack_request() -> Any:
    request = analyzer_pb2.AnalyzeStackRequest()
    key_urn = _urn(AwsType.KMS_KEY, "key")
    for i, (rtype, name, props) in enumerate(RESOURCES):
        r = analyzer_pb2.AnalyzerResource(
            type=rtype,
            properties=_struct(props),
            urn=_urn(rtype, name),
            name=name,
            # A parent and dependencies the stack holds, and some it does not.
            parent=key_urn if i % 2 else _urn("x", "missing"),
            dependencies=[key_urn, _urn("x", "missing")],
        )
        r.propertyDependencies["serverSideEncryption"].CopyFrom(
            analyzer_pb2.AnalyzerPropertyDependencies(urns=[key_urn, "urn:none"])
        )
        if i % 3:
            r.provider.CopyFrom(PROVIDER)
        request.resources.append(r)
    # The same URN twice: the SDK links to the later one.
    request.resources.append(request.resources[0])
    return request


def _servicer(cls: type, levels: dict[str, int] | None = None) -> Any:
    s = cls(PACK_NAME, "0.0.1", POLICIES, EnforcementLevel.MANDATORY)
    configure = analyzer_pb2.ConfigureAnalyzerRequest()
    for name, level in (levels or {}).items():
        configure.policyConfig[name].CopyFrom(analyzer_pb2.PolicyConfig(enforcementLevel=level))
    s.Configure(configure, None)
    return s


def _answers(cls: type, levels: dict[str, int] | None = None) -> list[bytes]:
    s = _servicer(cls, levels)
    out = [s.Analyze(_request(*r, provider=p), None) for r in RESOURCES for p in (True, False)]
    out.append(s.AnalyzeStack(_stack_request(), None))
    return [o.SerializeToString(deterministic=True) for o in out]


def _names() -> list[str]:
    return [p.name for p in POLICIES]


@pytest.mark.parametrize(
    "levels",
    [
        None,
        # A disabled rule, a remediating one, an advisory stack rule.
        {
            "kms-key-rotation-enabled": analyzer_pb2.DISABLED,
            "kms-key-deletion-window": analyzer_pb2.REMEDIATE,
            "dynamodb-table-customer-managed-key": analyzer_pb2.ADVISORY,
        },
    ],
)
def test_answers_are_the_sdks_byte_for_byte(levels):
    if levels:
        assert set(levels) <= set(_names())
    shared = _answers(servicer.SharedConversionServicer, levels)
    assert shared == _answers(SDK_SERVICER, levels)
    # The cases reach the rules: violations, and values unknown during preview.
    text = b"".join(shared)
    assert b"can't run policy 'kms-key-policy-valid'" in text
    assert b"can't run policy 'stack-key-access-matches-declared'" in text
    assert b"iam-policy-no-kms-decrypt-on-all-keys" in text


def _count_conversions(monkeypatch) -> list[int]:
    """Count deserializations wherever the SDK or the pack's servicer makes them."""
    calls = [0]
    real = servicer.deserialize_properties

    def counting(props: Any, proxy_secrets: bool = False) -> Any:
        calls[0] += 1
        return real(props, proxy_secrets)

    monkeypatch.setattr(servicer, "deserialize_properties", counting)
    monkeypatch.setattr(sdk, "deserialize_properties", counting)
    return calls


def _resource_rules() -> int:
    return sum(isinstance(p, sdk.ResourceValidationPolicy) for p in POLICIES)


@pytest.mark.parametrize("provider", [False, True])
def test_analyze_converts_a_resource_once_for_all_rules(monkeypatch, provider):
    assert _resource_rules() > 1
    calls = _count_conversions(monkeypatch)
    request = _request(*RESOURCES[0], provider=provider)
    per_request = 1 + provider
    _servicer(SDK_SERVICER).Analyze(request, None)
    assert calls[0] == per_request * _resource_rules()
    calls[0] = 0
    _servicer(servicer.SharedConversionServicer).Analyze(request, None)
    assert calls[0] == per_request


def test_analyze_stack_converts_each_resource_once(monkeypatch):
    stack_rules = sum(isinstance(p, sdk.StackValidationPolicy) for p in POLICIES)
    assert stack_rules > 1
    calls = _count_conversions(monkeypatch)
    request = _stack_request()
    conversions = len(request.resources) + sum(r.HasField("provider") for r in request.resources)
    _servicer(SDK_SERVICER).AnalyzeStack(request, None)
    assert calls[0] == conversions * stack_rules
    calls[0] = 0
    _servicer(servicer.SharedConversionServicer).AnalyzeStack(request, None)
    assert calls[0] == conversions


def test_every_stack_rule_sees_the_same_resource_objects(monkeypatch):
    seen: list[list[Any]] = []  # held, so no id is reused
    for policy in POLICIES:
        if isinstance(policy, sdk.StackValidationPolicy):

            def spy(args: Any, report: Any, real: Any = policy.validate) -> Any:
                seen.append(args.resources)
                return real(args, report)

            monkeypatch.setattr(policy, "validate", spy)
    _servicer(servicer.SharedConversionServicer).AnalyzeStack(_stack_request(), None)
    assert len(seen) > 1
    assert len({id(resources) for resources in seen}) == len(seen)  # a list of its own per rule
    first = [id(r) for r in seen[0]]
    assert all([id(r) for r in resources] == first for resources in seen)


def test_no_conversion_when_every_rule_is_disabled(monkeypatch):
    calls = _count_conversions(monkeypatch)
    s = _servicer(servicer.SharedConversionServicer, {n: analyzer_pb2.DISABLED for n in _names()})
    assert s.Analyze(_request(*RESOURCES[0], provider=True), None).diagnostics == []
    assert s.AnalyzeStack(_stack_request(), None).diagnostics == []
    assert calls[0] == 0


def test_the_installed_sdk_is_served_with_shared_conversion():
    assert servicer.unsupported_reason() is None
    cls, note = servicer.servicer_class()
    assert cls is servicer.SharedConversionServicer and "once per request" in note


class _OtherSdk(SDK_SERVICER):  # type: ignore[misc, valid-type]
    """An SDK whose Analyze differs from the one the pack re-expresses."""

    def Analyze(self, request: Any, context: Any) -> Any:
        return super().Analyze(request, context)


def test_another_sdk_is_served_by_its_own_servicer(monkeypatch):
    reason = servicer.unsupported_reason(_OtherSdk)
    assert reason == "the SDK's Analyze is not the one this pack re-expresses"
    monkeypatch.setattr(servicer, "unsupported_reason", lambda: reason)
    cls, note = servicer.servicer_class()
    assert cls is SDK_SERVICER
    assert note == f"SDK servicer, converting per rule ({reason})"
    monkeypatch.setattr(sdk, "_PolicyAnalyzerServicer", SDK_SERVICER)
    servicer.install()
    assert sdk._PolicyAnalyzerServicer is SDK_SERVICER


def test_a_servicer_without_readable_source_is_not_replaced():
    class Compiled:
        Analyze = print  # a builtin: no Python source to compare
        AnalyzeStack = print

    assert servicer.source_digest(print) is None
    assert "Analyze is not the one" in (servicer.unsupported_reason(Compiled) or "")
    assert servicer.unsupported_reason(object) == "the SDK's servicer has no Analyze method"


class _Served(Exception):
    def __init__(self, servicer: Any) -> None:
        super().__init__()
        self.servicer = servicer


def test_the_pack_is_served_by_the_installed_servicer(monkeypatch):
    def capture(servicer_: Any, _server: Any) -> None:
        raise _Served(servicer_)

    monkeypatch.setattr(sdk, "_PolicyAnalyzerServicer", SDK_SERVICER)
    monkeypatch.setattr(sdk.grpc, "server", lambda *a, **k: None)
    monkeypatch.setattr(sdk.analyzer_pb2_grpc, "add_AnalyzerServicer_to_server", capture)
    assert servicer.install() == "shared conversion, once per request"
    with pytest.raises(_Served) as served:
        sdk.PolicyPack(name=PACK_NAME, policies=POLICIES)
    assert type(served.value.servicer) is servicer.SharedConversionServicer


def test_a_stack_with_more_documents_than_the_shared_cache_parses_each_once(monkeypatch):
    from policies import values
    from tests.policies.helpers import good_key_policy

    request = analyzer_pb2.AnalyzeStackRequest()
    for i in range(4):
        props = {"arn": f"{KEY_ARN}{i}", "policy": json.dumps({**good_key_policy(), "Id": str(i)})}
        request.resources.append(
            analyzer_pb2.AnalyzerResource(
                type=AwsType.KMS_KEY, properties=_struct(props), urn=_urn("k", str(i)), name="k"
            )
        )
    parsed: list[str] = []

    class CountingJson:
        @staticmethod
        def loads(text: str) -> Any:
            parsed.append(text)
            return json.loads(text)

    monkeypatch.setattr(values, "json", CountingJson)
    monkeypatch.setattr(values, "_LOADED_ENTRIES", 2)
    monkeypatch.setattr(values, "_LOADED", {})
    _servicer(SDK_SERVICER).AnalyzeStack(request, None)
    assert len(parsed) > 4  # each stack rule parses the documents the bound dropped again
    parsed.clear()
    values._LOADED.clear()
    _servicer(servicer.SharedConversionServicer).AnalyzeStack(request, None)
    assert sorted(parsed) == sorted(set(parsed)) and len(parsed) == 4
