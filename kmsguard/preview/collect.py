"""Run the program under the SDK's mocks; record each registration as the engine sees it."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any
from urllib.parse import urlparse
from urllib.request import url2pathname

import pulumi
from google.protobuf import json_format, struct_pb2
from pulumi.runtime import config as runtime_config
from pulumi.runtime import mocks as pmocks
from pulumi.runtime import rpc
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime.proto import resource_pb2
from pulumi.runtime.stack import run_in_stack
from pulumi.runtime.sync_await import _ensure_event_loop, _sync_await

from kmsguard.contract import PROJECT
from kmsguard.preview.unknowns import UNKNOWN, unknown_invoke_response, with_unknowns

STACK_TYPE = "pulumi:pulumi:Stack"
ANSWERED_AS_UNKNOWN = "answered as unknown"
DEFAULT_CONFIG: Mapping[str, Any] = {"aws:region": "us-east-1"}


@dataclass
class RegisteredResource:
    """One resource as the engine sees it: inputs for Analyze, outputs for AnalyzeStack."""

    type: str
    urn: str
    name: str
    custom: bool
    parent: str
    provider: str  # provider reference "<urn>::<id>", empty for components
    dependencies: list[str]
    property_dependencies: dict[str, list[str]]
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    id: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    source: tuple[str, int] | None = None  # (file path, line) of the registering call


@dataclass
class ProgramRun:
    preview: bool
    project: str
    stack: str
    resources: list[RegisteredResource]
    outputs: dict[str, Any]
    unknown_invokes: list[str] = field(default_factory=list)

    def by_urn(self) -> dict[str, RegisteredResource]:
        return {r.urn: r for r in self.resources}


def _to_dict(struct: struct_pb2.Struct) -> dict[str, Any]:
    return json_format.MessageToDict(struct)


def _to_struct(data: Mapping[str, Any]) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    s.update(dict(data))
    return s


class RecordingMonitor(pmocks.MockMonitor):
    """A mock resource monitor that keeps each request the way the engine would receive it."""

    def __init__(
        self, mocks: pulumi.runtime.Mocks, *, preview: bool, project: str, stack: str
    ) -> None:
        super().__init__(mocks)
        self.preview = preview
        self.project = project
        self.stack = stack
        self.records: list[RegisteredResource] = []
        self._qualified: dict[str, str] = {}
        self._by_urn: dict[str, RegisteredResource] = {}
        self._default_providers: dict[str, RegisteredResource] = {}
        self._lock = threading.Lock()
        self.unknown_invokes: list[str] = []

    def engine_urn(self, parent: str, type_: str, name: str) -> str:
        # The engine prefixes the parent's qualified type, except for the root stack.
        parent_q = self._qualified.get(parent, "")
        qualified = type_ if not parent_q or parent_q == STACK_TYPE else f"{parent_q}${type_}"
        urn = f"urn:pulumi:{self.stack}::{self.project}::{qualified}::{name}"
        self._qualified[urn] = qualified
        return urn

    def _default_provider(self, type_: str) -> str:
        pkg = type_.split(":", 1)[0]
        with self._lock:
            existing = self._default_providers.get(pkg)
            if existing is None:
                try:
                    version = metadata.version(f"pulumi_{pkg}")
                except metadata.PackageNotFoundError:
                    version = "0.0.0"
                name = "default_" + version.replace(".", "_")
                ptype = f"pulumi:providers:{pkg}"
                urn = f"urn:pulumi:{self.stack}::{self.project}::{ptype}::{name}"
                cfg = {
                    k.split(":", 1)[1]: v
                    for k, v in runtime_config.CONFIG.get().items()
                    if k.startswith(pkg + ":")
                }
                inputs = {**cfg, "version": version}
                existing = RegisteredResource(
                    type=ptype,
                    urn=urn,
                    name=name,
                    custom=True,
                    parent="",
                    provider="",
                    dependencies=[],
                    property_dependencies={},
                    inputs=inputs,
                    outputs=dict(inputs),
                    id=UNKNOWN if self.preview else f"{name}-id",
                )
                self._default_providers[pkg] = existing
                self._record(existing)
        return f"{existing.urn}::{existing.id}"

    def _record(self, rec: RegisteredResource) -> None:
        self.records.append(rec)
        self._by_urn[rec.urn] = rec

    def RegisterResource(self, request: Any) -> Any:
        urn = self.engine_urn(request.parent, request.type, request.name)
        inputs = with_unknowns(_to_dict(request.object))
        provider = request.provider
        if request.custom and not provider and not request.type.startswith("pulumi:providers:"):
            provider = self._default_provider(request.type)
        rec = RegisteredResource(
            type=request.type,
            urn=urn,
            name=request.name,
            custom=bool(request.custom),
            parent=request.parent,
            provider=provider,
            dependencies=list(request.dependencies),
            property_dependencies={
                k: list(v.urns) for k, v in request.propertyDependencies.items()
            },
            inputs=inputs,
            outputs={},
            options={
                "protect": bool(request.protect),
                "ignoreChanges": list(request.ignoreChanges),
                "deleteBeforeReplace": bool(request.deleteBeforeReplace),
                "additionalSecretOutputs": list(request.additionalSecretOutputs),
            },
            source=_source(request),
        )
        with self._lock:
            self._record(rec)
        if request.type == STACK_TYPE or not request.custom:
            return resource_pb2.RegisterResourceResponse(urn=urn, object=struct_pb2.Struct())

        _ensure_event_loop()
        resource_args = pmocks.MockResourceArgs(
            typ=request.type,
            name=request.name,
            inputs=rpc.deserialize_properties(request.object),
            provider=provider,
            resource_id=request.importId,
            custom=True,
        )
        id_, state = self.mocks.new_resource(resource_args)
        state_proto = _sync_await(rpc.serialize_properties(state, {}))
        state_dict = with_unknowns(_to_dict(state_proto))
        if self.preview and not _already_deployed(self.mocks, request.type, request.name):
            # Like a provider's preview of a create: inputs as given, computed outputs unknown.
            outputs = {**inputs, **{k: UNKNOWN for k in state_dict if k not in inputs}}
            id_ = ""
        else:
            outputs = state_dict
        rec.outputs = outputs
        rec.id = id_ or UNKNOWN
        self.resources[urn] = pmocks.MockMonitor.ResourceRegistration(urn, id_ or "", state)
        return resource_pb2.RegisterResourceResponse(
            urn=urn, id=id_ or "", object=_to_struct(outputs)
        )

    def Invoke(self, request: Any) -> Any:
        answers = getattr(self.mocks, "answers", None)
        if callable(answers) and not answers(request.tok):
            with self._lock:
                if request.tok not in self.unknown_invokes:
                    self.unknown_invokes.append(request.tok)
            return unknown_invoke_response(request.tok, _to_dict(request.args))
        return super().Invoke(request)

    def RegisterResourceOutputs(self, request: Any) -> Any:
        rec = self._by_urn.get(request.urn)
        if rec is not None:
            rec.outputs = with_unknowns(_to_dict(request.outputs))
        return super().RegisterResourceOutputs(request)


def _source(request: Any) -> tuple[str, int] | None:
    """The program line that registered the resource, as the SDK attaches it."""
    pos = request.sourcePosition if request.HasField("sourcePosition") else None
    if pos is None or not pos.uri.startswith("file:") or pos.line <= 0:
        return None
    try:
        path = url2pathname(urlparse(pos.uri).path)
    except ValueError:
        return None
    return path, int(pos.line)


def _already_deployed(mocks: pulumi.runtime.Mocks, type_: str, name: str) -> bool:
    """Mocks that model deployed state (the demo's engine) say which resources exist already:
    the engine's preview of an update keeps their outputs (ARNs, ids) known, as `pulumi
    preview` does; only new resources have unknown computed outputs."""
    exists = getattr(mocks, "exists", None)
    return bool(exists(type_, name)) if callable(exists) else False


def _default_program() -> None:
    from kmsguard.program import main

    main()


def run_program(
    config: Mapping[str, Any],
    *,
    preview: bool,
    stack: str = "dev",
    mocks: pulumi.runtime.Mocks | None = None,
    program: Callable[[], None] | None = None,
    project: str = PROJECT,
    secret_keys: Sequence[str] = (),
) -> ProgramRun:
    """Run `program` (default: kmsguard.program.main) and return what it registered.

    `config` keys are full (`kmsguard:tableName`, `aws:region`) or bare (taken as the
    project's namespace); `secret_keys` are full keys the program reads as secrets.
    The run happens on its own thread so the SDK's context-local settings start clean.
    """
    from kmsguard.preview.mocks import AwsMocks

    full = dict(DEFAULT_CONFIG)
    for k, v in config.items():
        full[k if ":" in k else f"{project}:{k}"] = v if isinstance(v, str) else _json(v)
    monitor = RecordingMonitor(
        mocks or AwsMocks(region=str(full["aws:region"])),
        preview=preview,
        project=project,
        stack=stack,
    )
    error: list[BaseException] = []

    # The SDK calls the monitor from executor threads and gives each an event loop it never
    # closes; left to the garbage collector, closing one fails ("Invalid file descriptor: -1").
    # The executor's threads get their loop here instead, and it is closed once they are done.
    thread_loops: list[asyncio.AbstractEventLoop] = []

    def own_loop() -> None:
        thread_loop = asyncio.new_event_loop()
        asyncio.set_event_loop(thread_loop)
        thread_loops.append(thread_loop)

    def run() -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        loop.set_default_executor(ThreadPoolExecutor(initializer=own_loop))
        try:
            runtime_settings.ROOT.set(None)
            runtime_config.set_all_config(full, list(secret_keys))
            features = set(monitor.GetDeploymentInfo(None).supportedFeatures)
            runtime_settings.configure(
                pmocks.MockSettings(
                    monitor=monitor,
                    monitor_features=features,
                    engine=pmocks.MockEngine(None),
                    project=project,
                    stack=stack,
                    dry_run=preview,
                    organization="organization",
                    callbacks=None,
                )
            )
            loop.run_until_complete(run_in_stack(program or _default_program))
        except BaseException as exc:
            error.append(exc)
        finally:
            loop.run_until_complete(loop.shutdown_default_executor())
            for thread_loop in thread_loops:
                thread_loop.close()
            loop.close()

    thread = threading.Thread(target=run, name="pulumi-program")
    thread.start()
    thread.join()
    if error:
        if monitor.unknown_invokes:
            error[0].add_note(ANSWERED_AS_UNKNOWN + ": " + ", ".join(monitor.unknown_invokes))
        raise error[0]
    stack_rec = next((r for r in monitor.records if r.type == STACK_TYPE), None)
    return ProgramRun(
        preview=preview,
        project=project,
        stack=stack,
        resources=list(monitor.records),
        outputs=dict(stack_rec.outputs) if stack_rec else {},
        unknown_invokes=list(monitor.unknown_invokes),
    )


def _json(value: Any) -> str:
    import json

    return json.dumps(value)
