"""Start a policy pack as the Pulumi CLI does and drive its Analyzer gRPC protocol."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Mapping
from concurrent import futures
from pathlib import Path
from typing import Any, cast

import grpc
from google.protobuf import empty_pb2, json_format
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc, engine_pb2_grpc, plugin_pb2

from kmsguard.child_process import ChildProcess
from kmsguard.findings_file import FindingsFile
from kmsguard.preview.collect import RegisteredResource
from kmsguard.preview.diagnostics import (
    PackInfo,
    Remediation,
    Violation,
    joined,
    remediated,
)
from kmsguard.preview.pack_dir import (
    PACK_DIR,
    PackFileError,
    in_repo_pack_env,
    read_pack_file,
    start_failure,
)
from kmsguard.preview.wire import (
    LEVEL_CODES,
    policy_metas,
    resource_options,
    struct,
    violations,
    whole_numbers,
)


class AnalyzerError(RuntimeError):
    """The pack could not be started or answered with an error."""


class _Engine(engine_pb2_grpc.EngineServicer):
    """The minimal engine a plugin may log to."""

    def __init__(self) -> None:
        self.logs: list[str] = []

    def Log(self, request: Any, context: Any) -> empty_pb2.Empty:
        self.logs.append(request.message)
        return empty_pb2.Empty()


class PolicyPackClient:
    """`python -m pulumi.policy <engine> <pack>` as a child process, and a stub to talk to it."""

    def __init__(
        self,
        pack_dir: Path | str = PACK_DIR,
        *,
        project: str = "kmsguard",
        stack: str = "dev",
        preview: bool = True,
        python: str | None = None,
        startup_timeout: float = 60.0,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.pack_dir = Path(pack_dir).resolve()
        if python is None:
            try:
                pack = read_pack_file(self.pack_dir)
                python, self.version = pack.python(), pack.version
            except PackFileError as exc:
                raise AnalyzerError(str(exc)) from None
        else:
            self.version = ""
        self._engine = _Engine()
        # The findings behind each diagnostic, which the protocol does not carry.
        self.findings_file = FindingsFile()
        self._remediating: bool | None = None
        self._engine_server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        engine_pb2_grpc.add_EngineServicer_to_server(self._engine, self._engine_server)
        engine_port = self._engine_server.add_insecure_port("127.0.0.1:0")
        self._engine_server.start()
        # `env` replaces the inherited environment (a pack unpacked elsewhere must not see this
        # checkout); this repository's own pack gets what the CLI would see after `make venv`.
        base = dict(os.environ if env is None else env)
        run_env = in_repo_pack_env(base) if self.pack_dir == PACK_DIR else base
        run_env.update(
            PULUMI_PROJECT=project,
            PULUMI_STACK=stack,
            PULUMI_DRY_RUN="true" if preview else "false",
            **self.findings_file.env(),
        )
        # The CLI runs the pack from its own directory.
        self._python = python
        try:
            self._child = ChildProcess(
                [python, "-m", "pulumi.policy", f"127.0.0.1:{engine_port}", str(self.pack_dir)],
                cwd=self.pack_dir,
                env=run_env,
            )
        except BaseException:
            self._engine_server.stop(0)
            self.findings_file.close()
            raise
        try:
            port = self._read_port(startup_timeout)
            self._channel = grpc.insecure_channel(
                f"127.0.0.1:{port}", options=[("grpc.max_receive_message_length", 400 << 20)]
            )
            grpc.channel_ready_future(self._channel).result(timeout=startup_timeout)
            self.stub = analyzer_pb2_grpc.AnalyzerStub(self._channel)
        except BaseException:
            self.close()
            raise

    def _read_port(self, timeout: float) -> int:
        """The port the pack prints as its first line, as the CLI reads it."""
        text = self._child.ready_line(timeout, str.isdigit, first_only=True)
        if text is None:
            self._child.kill()
            said = "\n".join([*self._child.lines, self._child.stderr_text()])
            reason = start_failure(said, self.pack_dir, self._python)
            raise AnalyzerError(f"policy pack at {self.pack_dir} did not start: {reason}")
        return int(text)

    def close(self) -> None:
        channel = getattr(self, "_channel", None)
        if channel is not None:
            channel.close()
        self._child.stop()
        self._engine_server.stop(0)
        self.findings_file.close()

    @property
    def pid(self) -> int:
        """The pack process, for benchmarks that read its CPU time."""
        return self._child.pid

    def __enter__(self) -> PolicyPackClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _joined(self, found: list[Violation]) -> list[Violation]:
        return joined(self.findings_file, found)

    # --- protocol ------------------------------------------------------------------------

    def info(self) -> Any:
        return self.stub.GetAnalyzerInfo(empty_pb2.Empty())

    def describe(self) -> PackInfo:
        info = self.info()
        version = self.version or info.version
        return PackInfo(info.name, version, self.pack_dir, policy_metas(info))

    def plugin_version(self) -> str:
        return str(self.stub.GetPluginInfo(empty_pb2.Empty()).version)

    def configure(self, policy_config: Mapping[str, Mapping[str, Any]]) -> None:
        """Per-policy config: {name: {"enforcementLevel": "...", <property>: value}}."""
        request = analyzer_pb2.ConfigureAnalyzerRequest()
        self._remediating = None
        for name, cfg in policy_config.items():
            props = {k: v for k, v in cfg.items() if k != "enforcementLevel"}
            entry = analyzer_pb2.PolicyConfig(properties=struct(props))
            level = cfg.get("enforcementLevel")
            if isinstance(level, str):
                if level not in LEVEL_CODES:
                    raise ValueError(
                        f"policy {name}: enforcementLevel {level!r} is not one of "
                        f"{sorted(LEVEL_CODES)}"
                    )
                cast(Any, entry).enforcementLevel = LEVEL_CODES[level]
            else:
                cast(Any, entry).enforcementLevel = self._default_level(name)
            if entry.enforcementLevel == analyzer_pb2.REMEDIATE:
                self._remediating = True
            request.policyConfig[name].CopyFrom(entry)
        self.stub.Configure(request)

    def _default_level(self, name: str) -> int:
        for p in self.info().policies:
            if p.name == name:
                return int(p.enforcementLevel)
        raise ValueError(f"no policy named {name!r} in the pack")

    def _provider(
        self, ref: str, by_urn: Mapping[str, RegisteredResource]
    ) -> analyzer_pb2.AnalyzerProviderResource | None:
        urn = ref.rsplit("::", 1)[0] if ref else ""
        prov = by_urn.get(urn)
        if prov is None:
            return None
        return analyzer_pb2.AnalyzerProviderResource(
            type=prov.type, properties=struct(prov.inputs), urn=prov.urn, name=prov.name
        )

    def _request(
        self, r: RegisteredResource, by_urn: Mapping[str, RegisteredResource] | None
    ) -> analyzer_pb2.AnalyzeRequest:
        request = analyzer_pb2.AnalyzeRequest(
            type=r.type,
            properties=struct(r.inputs),
            urn=r.urn,
            name=r.name,
            options=resource_options(r),
        )
        provider = self._provider(r.provider, by_urn or {})
        if provider is not None:
            request.provider.CopyFrom(provider)
        return request

    def remediating(self) -> bool:
        """Whether any policy runs at enforcement level `remediate` (default or configured)."""
        if self._remediating is None:
            self._remediating = any(
                p.enforcementLevel == analyzer_pb2.REMEDIATE for p in self.info().policies
            )
        return self._remediating

    def remediate(
        self, r: RegisteredResource, by_urn: Mapping[str, RegisteredResource] | None = None
    ) -> tuple[RegisteredResource, list[Remediation], list[Violation]]:
        """The Remediate RPC, as the engine calls it before Analyze: the resource with every
        remediation applied in the pack's order, what each changed, and the advisories of
        remediations that could not run (unknown values during preview)."""
        if not self.remediating():
            # The SDK runs only policies at level remediate; none means nothing can change.
            return r, [], []
        response = self.stub.Remediate(self._request(r, by_urn))
        fixes: list[Remediation] = []
        notes: list[Violation] = []
        for rem in response.remediations:
            if rem.diagnostic:
                notes.append(
                    Violation(
                        policy_name=rem.policyName,
                        pack_name=rem.policyPackName,
                        pack_version=rem.policyPackVersion,
                        message=rem.diagnostic,
                        urn="",  # as the pack sent it; the resource's once joined
                        description=rem.description,
                        enforcement_level="advisory",
                        severity="",
                    )
                )
            elif rem.HasField("properties"):
                after = whole_numbers(json_format.MessageToDict(rem.properties))
                fixes.append(
                    Remediation(
                        policy_name=rem.policyName,
                        pack_name=rem.policyPackName,
                        pack_version=rem.policyPackVersion,
                        description=rem.description,
                        urn=r.urn,
                        before=whole_numbers(dict(r.inputs)),
                        after=after,
                    )
                )
                r = remediated(r, after)
        return r, fixes, [dataclasses.replace(v, urn=r.urn) for v in self._joined(notes)]

    def analyze(
        self, r: RegisteredResource, by_urn: Mapping[str, RegisteredResource] | None = None
    ) -> list[Violation]:
        request = self._request(r, by_urn)
        # Resource policies report without a URN; the engine attributes them to the resource.
        return [
            v if v.urn else dataclasses.replace(v, urn=r.urn)
            for v in self._joined(violations(self.stub.Analyze(request)))
        ]

    def analyze_stack(self, resources: Iterable[RegisteredResource]) -> list[Violation]:
        items = list(resources)
        by_urn = {r.urn: r for r in items}
        request = analyzer_pb2.AnalyzeStackRequest()
        for r in items:
            ar = analyzer_pb2.AnalyzerResource(
                type=r.type,
                properties=struct(r.outputs),
                urn=r.urn,
                name=r.name,
                options=resource_options(r),
                parent=r.parent,
                dependencies=r.dependencies,
            )
            for k, urns in r.property_dependencies.items():
                ar.propertyDependencies[k].CopyFrom(
                    analyzer_pb2.AnalyzerPropertyDependencies(urns=urns)
                )
            provider = self._provider(r.provider, by_urn)
            if provider is not None:
                ar.provider.CopyFrom(provider)
            request.resources.append(ar)
        return self._joined(violations(self.stub.AnalyzeStack(request)))

    def analyze_run(self, resources: Iterable[RegisteredResource]) -> list[Violation]:
        """Remediate and analyze each resource, then the stack: what the engine does during
        preview and update (remediations themselves are not returned; see preview.report)."""
        items = list(resources)
        by_urn = {r.urn: r for r in items}
        out: list[Violation] = []
        fixed: list[RegisteredResource] = []
        for r in items:
            r, _, notes = self.remediate(r, by_urn)
            out.extend(notes)
            out.extend(self.analyze(r, by_urn))
            fixed.append(r)
        out.extend(self.analyze_stack(fixed))
        return out


_ = plugin_pb2  # imported for its message registrations used by GetPluginInfo
