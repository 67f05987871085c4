"""The component provider over gRPC, started as the engine starts it: schema, Construct, errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from google.protobuf import json_format, struct_pb2
from pulumi.runtime import rpc

# The SDK's copy of google.rpc.Status (googleapis' would register the same name twice).
from pulumi.runtime.proto import errors_pb2, provider_pb2, status_pb2

import kmsguard
from kmsguard.component import KmsProtectedTable
from kmsguard.contract import COMPONENT_TYPE, CONFIG_KEYS, AwsType
from kmsguard.preview.collect import RecordingMonitor, RegisteredResource, run_program
from kmsguard.preview.mocks import AwsMocks
from kmsguard.settings import ConfigError
from tests.component.harness import MonitorServer, ProviderProcess

NAME = "kms-protected"
OUTPUTS = {
    "keyId",
    "keyArn",
    "keyAlias",
    "tableName",
    "tableArn",
    "testUserName",
    "testUserArn",
    "keyPolicy",
}
TEST_USER = "arn:aws:iam::123456789012:user/kms-test-user"
APP_ROLE = "arn:aws:iam::123456789012:role/app"


# One worker runs the whole module, so its module-scoped provider process is built once.
pytestmark = pytest.mark.xdist_group("provider-process")


@pytest.fixture(scope="module")
def provider() -> Iterator[ProviderProcess]:
    with ProviderProcess() as proc:
        yield proc


@pytest.fixture(scope="module")
def schema(provider: ProviderProcess) -> dict[str, Any]:
    response = provider.stub.GetSchema(provider_pb2.GetSchemaRequest(version=0))
    return json.loads(response.schema)


def _struct(data: dict[str, Any]) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    s.update(data)
    return s


def construct(
    provider: ProviderProcess, inputs: dict[str, Any], name: str = NAME
) -> tuple[RecordingMonitor, Any]:
    """Construct against the project's mock monitor; returns it and the response (or error)."""
    monitor = RecordingMonitor(AwsMocks(), preview=False, project="kmsguard", stack="dev")
    server = MonitorServer(monitor)
    request = provider_pb2.ConstructRequest(
        project="kmsguard",
        stack="dev",
        organization="organization",
        monitorEndpoint=server.address,
        type=COMPONENT_TYPE,
        name=name,
        inputs=_struct(inputs),
        config={"aws:region": "us-east-1"},
    )
    try:
        return monitor, provider.stub.Construct(request, timeout=120)
    except grpc.RpcError as err:
        return monitor, err
    finally:
        server.close()


def property_errors(err: grpc.RpcError) -> list[tuple[str, str]]:
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT, err.details()
    raw = dict(err.trailing_metadata() or ())["grpc-status-details-bin"]
    status = status_pb2.Status.FromString(raw)
    details = errors_pb2.InputPropertiesError()
    assert status.details[0].Unpack(details)
    return [(e.property_path, e.reason) for e in details.errors]


def children(records: list[RegisteredResource]) -> dict[str, tuple[str, str, dict[str, Any]]]:
    return {r.urn: (r.type, r.parent, r.inputs) for r in records if f"{COMPONENT_TYPE}$" in r.urn}


def test_schema_is_the_typed_component_every_language_generates_from(
    schema: dict[str, Any],
) -> None:
    assert schema["name"] == "kmsguard" and schema["version"] == kmsguard.__version__
    res = schema["resources"][COMPONENT_TYPE]
    assert res["isComponent"] is True and "customer managed KMS key" in res["description"]
    inputs = res["inputProperties"]
    # The inputs are the program's configuration keys, named the same.
    assert list(inputs) == list(CONFIG_KEYS)
    assert res["requiredInputs"] == ["tableName"]
    types = {k: v["type"] for k, v in inputs.items()}
    assert types["tableName"] == "string" and types["grantTestUserKeyAccess"] == "boolean"
    assert types["keyDeletionWindowDays"] == types["keyRotationPeriodDays"] == "integer"
    for key in ("keyAdministrators", "keyUsers"):
        assert types[key] == "array" and inputs[key]["items"]["type"] == "string"
    # Validated before anything is registered, so never outputs of other resources.
    assert all(v.get("plain") is True for v in inputs.values())
    assert "7-30" in inputs["keyDeletionWindowDays"]["description"]
    assert all(v.get("description") for v in inputs.values())
    outputs = res["properties"]
    assert set(outputs) == OUTPUTS and set(res["required"]) == OUTPUTS
    assert all(v["type"] == "string" and v.get("description") for v in outputs.values())
    # Plain strings only: consumers need no AWS SDK of their own.
    assert schema["dependencies"] == [] and schema["types"] == {}


@pytest.mark.parametrize(
    "args",
    [
        {"tableName": "orders"},
        {
            "tableName": "orders",
            "grantTestUserKeyAccess": True,
            "keyUsers": [APP_ROLE],
            "keyAdministrators": [APP_ROLE.replace("app", "admin")],
            "restrictKeyUseToDynamoDB": False,
            "keyDeletionWindowDays": 14,
            "keyRotationPeriodDays": 180,
            "pointInTimeRecovery": False,
            "deletionProtection": True,
        },
    ],
    ids=["defaults", "every-argument"],
)
def test_construct_registers_what_the_python_component_registers(
    provider: ProviderProcess, args: dict[str, Any]
) -> None:
    monitor, response = construct(provider, args)
    assert not isinstance(response, grpc.RpcError), response
    state = json_format.MessageToDict(response.state)

    python = run_program(
        {},
        preview=False,
        program=lambda: KmsProtectedTable(NAME, args),  # type: ignore[arg-type]
    )
    component = next(r for r in python.resources if r.type == COMPONENT_TYPE)
    assert response.urn == component.urn
    assert children(monitor.records) == children(python.resources)
    assert len(children(monitor.records)) == 5
    assert state == component.outputs and set(state) == OUTPUTS
    key = next(r for r in monitor.records if r.type == AwsType.KMS_KEY)
    assert json.loads(state["keyPolicy"]) == json.loads(key.inputs["policy"])
    policy = json.dumps(json.loads(state["keyPolicy"]))
    assert (TEST_USER in policy) == bool(args.get("grantTestUserKeyAccess"))
    assert state["keyAlias"] == "alias/orders" and state["tableName"] == "orders"


SECRET = {rpc._special_sig_key: rpc._special_secret_sig, "value": "orders"}


@pytest.mark.parametrize(
    ("args", "paths"),
    [
        ({}, ["tableName"]),
        (
            {"tableName": "bad name!", "keyDeletionWindowDays": 7.5},
            ["tableName", "keyDeletionWindowDays"],
        ),
        ({"tableName": "orders", "keyRotationPeriodDays": 30}, ["keyRotationPeriodDays"]),
        (
            {"tableName": "orders", "keyUsers": ["arn:aws:sts::123456789012:assumed-role/a/b"]},
            ["keyUsers"],
        ),
        (
            {"tableName": "orders", "keyAdministrators": [], "enableRootDelegation": False},
            ["keyAdministrators"],
        ),
        ({"tableName": "orders", "tablename": "typo"}, ["tablename"]),
        # Only known once the account is resolved, still before anything is registered.
        ({"tableName": "orders", "keyUsers": [TEST_USER]}, ["keyUsers"]),
    ],
    ids=["missing", "name-and-fraction", "range", "session-arn", "lockout", "unknown", "test-user"],
)
def test_invalid_arguments_fail_before_registering_naming_each_as_python_does(
    provider: ProviderProcess, args: dict[str, Any], paths: list[str]
) -> None:
    monitor, response = construct(provider, args)
    assert isinstance(response, grpc.RpcError)
    errors = property_errors(response)
    assert [p for p, _ in errors] == paths
    assert "Traceback" not in response.details() and 'File "' not in str(errors)
    assert monitor.records == []
    # The Python component: the same problems, nothing registered.
    with pytest.raises(ConfigError) as err:
        run_program({}, preview=False, program=lambda: KmsProtectedTable(NAME, args))  # type: ignore[arg-type]
    assert err.value.problems == [reason for _, reason in errors]


def test_an_output_instead_of_a_plain_value_is_refused_by_name(provider: ProviderProcess) -> None:
    monitor, response = construct(provider, {"tableName": SECRET})
    assert isinstance(response, grpc.RpcError)
    ((path, reason),) = property_errors(response)
    assert path == "tableName" and "plain value" in reason
    assert monitor.records == []
