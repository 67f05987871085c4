"""Start a policy pack as the Pulumi CLI does and drive its Analyzer gRPC protocol."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterable, Mapping
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import grpc
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc, engine_pb2_grpc, plugin_pb2

from kmsguard.preview.collect import RegisteredResource

REPO = Path(__file__).resolve().parents[2]
PACK_DIR = REPO / "policies"
_LEVELS = {
    analyzer_pb2.ADVISORY: "advisory",
    analyzer_pb2.MANDATORY: "mandatory",
    analyzer_pb2.REMEDIATE: "remediate",
    analyzer_pb2.DISABLED: "disabled",
}
_LEVEL_CODES = {v: k for k, v in _LEVELS.items()}
_SEVERITIES = {
    analyzer_pb2.POLICY_SEVERITY_LOW: "low",
    analyzer_pb2.POLICY_SEVERITY_MEDIUM: "medium",
    analyzer_pb2.POLICY_SEVERITY_HIGH: "high",
    analyzer_pb2.POLICY_SEVERITY_CRITICAL: "critical",
}


def in_repo_pack_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment in which the CLI starts this repository's pack, as `make venv` sets up.

    The pack names no virtualenv (so it can be published), so the CLI runs it with the Python
    on PATH: this interpreter goes first. kmsguard is imported from this checkout, whether or
    not the virtualenv has it installed.
    """
    env = dict(os.environ if base is None else base)
    env["PATH"] = os.pathsep.join(filter(None, [str(Path(sys.executable).parent), env.get("PATH")]))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


class AnalyzerError(RuntimeError):
    """The pack could not be started or answered with an error."""


_NO_MODULE = re.compile(r"No module named '([A-Za-z0-9_.]+)'")


def start_failure(output: str, pack_dir: Path, python: str) -> str:
    """Why a pack did not start, in one line, from what it printed.

    A traceback is summed up by its exception; a pack's own message (the kmsguard pack names
    every missing requirement) is kept whole. A missing module also gets the command that
    installs the pack's requirements into the Python that runs it.
    """
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    if not lines:
        return "it exited without a word"
    if any(ln.startswith("Traceback (most recent call last)") for ln in lines):
        reason = lines[-1]
    else:
        reason = " ".join(lines)
    reason = reason[:1000]
    missing = sorted({m.split(".")[0] for m in _NO_MODULE.findall(output)})
    if missing and "pip install" not in reason:
        requirements = pack_dir / "requirements.txt"
        what = f"-r {requirements}" if requirements.is_file() else " ".join(missing)
        reason += (
            f" (missing: {', '.join(missing)}; install the pack's requirements into the Python "
            f"that runs it: {python} -m pip install {what})"
        )
    return reason


def stop_child(proc: subprocess.Popen[Any]) -> None:
    """Stop a plugin process (terminate, then kill after 10 s) and close its pipes."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()


@dataclass(frozen=True)
class PolicyMeta:
    """What the pack says about one policy (GetAnalyzerInfo)."""

    name: str
    description: str
    enforcement_level: str
    severity: str
    remediation: str
    url: str
    tags: tuple[str, ...]
    framework: dict[str, str]
    config_schema: dict[str, Any]
    config_required: tuple[str, ...] = ()


@dataclass(frozen=True)
class PackInfo:
    name: str
    version: str
    path: Path
    policies: tuple[PolicyMeta, ...]


def _whole_numbers(value: Any) -> Any:
    """Protobuf structs carry every number as a double; schemas mean 7, not 7.0."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _whole_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_whole_numbers(v) for v in value]
    return value


def pack_settings(pack_dir: Path) -> tuple[str, str]:
    """(python to start the pack with, version) from the pack's PulumiPolicy.yaml.

    The CLI starts a Python pack with the virtualenv its `runtime.options.virtualenv` names,
    relative to the pack; without one (or when it does not exist) this interpreter is used.
    """
    import yaml

    path = pack_dir / "PulumiPolicy.yaml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError:
        raise AnalyzerError(
            f"{path}: no such file; --policy-pack must name a policy pack"
        ) from None
    except (yaml.YAMLError, UnicodeDecodeError):
        raise AnalyzerError(f"{path}: not valid YAML") from None
    if not isinstance(data, dict):
        raise AnalyzerError(f"{path}: expected a mapping with runtime and version")
    runtime = data.get("runtime")
    name = runtime.get("name") if isinstance(runtime, dict) else runtime
    if name != "python":
        raise AnalyzerError(
            f"{path}: runtime {name!r}: only Python packs (runtime: python) start here"
        )
    options = runtime.get("options") if isinstance(runtime, dict) else None
    python = sys.executable
    venv = options.get("virtualenv") if isinstance(options, dict) else None
    if isinstance(venv, str):
        candidate = (pack_dir / venv / "bin" / "python").absolute()
        if candidate.is_file():
            python = str(candidate)
    version = data.get("version")
    return python, str(version) if version is not None else ""


@dataclass(frozen=True)
class Violation:
    policy_name: str
    pack_name: str
    pack_version: str
    message: str
    urn: str
    description: str
    enforcement_level: str
    severity: str
    # A check the pack could not settle before deployment (not a finding), and the stack
    # config keys that would let it settle it during preview.
    deferred: bool = False
    decided_by: tuple[str, ...] = ()

    @property
    def detail(self) -> str:
        """The message without the policy description the SDK prepends."""
        if self.message.startswith(self.description + "\n"):
            return self.message[len(self.description) + 1 :]
        return self.message

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "policy": self.policy_name,
            "level": self.enforcement_level,
            # A pack may leave a policy's severity unset; JSON says so rather than "".
            "severity": self.severity or "unspecified",
            "urn": self.urn,
            "message": self.detail,
        }
        if self.deferred:
            out["deferred"] = True
            out["decidedBy"] = list(self.decided_by)
        return out


@dataclass(frozen=True)
class Remediation:
    """New properties a policy at enforcement level `remediate` gave a resource (Remediate)."""

    policy_name: str
    pack_name: str
    pack_version: str
    description: str
    urn: str
    before: Mapping[str, Any]
    after: Mapping[str, Any]
    severity: str = ""

    @property
    def changes(self) -> list[tuple[str, Any, Any]]:
        """(property, before, after) for each top-level property the remediation changed;
        None stands for absent."""
        keys = [*self.before, *(k for k in self.after if k not in self.before)]
        return [
            (k, self.before.get(k), self.after.get(k))
            for k in keys
            if (k in self.before) != (k in self.after) or self.before.get(k) != self.after.get(k)
        ]

    def to_json(self) -> dict[str, Any]:
        return {
            "policy": self.policy_name,
            "level": "remediate",
            # A pack may leave a policy's severity unset; JSON says so rather than "".
            "severity": self.severity or "unspecified",
            "urn": self.urn,
            "message": self.summary(),
            "changes": [{"property": k, "before": b, "after": a} for k, b, a in self.changes],
        }

    def summary(self) -> str:
        def show(value: Any) -> str:
            return "(absent)" if value is None else json.dumps(value, sort_keys=True)

        fixed = "; ".join(f"{k}: {show(b)} -> {show(a)}" for k, b, a in self.changes)
        return f"remediated by the pack: {fixed}" if fixed else "remediated by the pack"


def remediated(r: RegisteredResource, after: Mapping[str, Any]) -> RegisteredResource:
    """The resource with the remediated inputs, as the engine then registers it: the changed
    properties are what the provider returns for them too (AnalyzeStack sees outputs)."""
    outputs = dict(r.outputs)
    for key in set(r.inputs) | set(after):
        if key not in after:
            outputs.pop(key, None)
        elif r.inputs.get(key) != after[key] or key not in r.inputs:
            outputs[key] = after[key]
    return dataclasses.replace(r, inputs=dict(after), outputs=outputs)


class _Engine(engine_pb2_grpc.EngineServicer):
    """The minimal engine a plugin may log to."""

    def __init__(self) -> None:
        self.logs: list[str] = []

    def Log(self, request: Any, context: Any) -> empty_pb2.Empty:
        self.logs.append(request.message)
        return empty_pb2.Empty()


def _struct(data: Mapping[str, Any]) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    s.update(dict(data))
    return s


def _violations(response: Any) -> list[Violation]:
    return [
        Violation(
            policy_name=d.policyName,
            pack_name=d.policyPackName,
            pack_version=d.policyPackVersion,
            message=d.message,
            urn=d.urn,
            description=d.description,
            enforcement_level=_LEVELS.get(d.enforcementLevel, "advisory"),
            severity=_SEVERITIES.get(d.severity, ""),
        )
        for d in response.diagnostics
    ]


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
            python, self.version = pack_settings(self.pack_dir)
        else:
            self.version = ""
        self._engine = _Engine()
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
        )
        # The CLI runs the pack from its own directory.
        self._python = python
        self._proc = subprocess.Popen(
            [python, "-m", "pulumi.policy", f"127.0.0.1:{engine_port}", str(self.pack_dir)],
            cwd=self.pack_dir,
            env=run_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
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
        assert self._proc.stdout is not None
        line: list[bytes] = []
        reader = threading.Thread(target=lambda: line.append(self._proc.stdout.readline()))  # type: ignore[union-attr]
        reader.daemon = True
        reader.start()
        reader.join(timeout)
        text = line[0].decode().strip() if line else ""
        if not text.isdigit():
            self._proc.kill()
            err = self._proc.stderr.read().decode(errors="replace") if self._proc.stderr else ""
            reason = start_failure(text + "\n" + err, self.pack_dir, self._python)
            raise AnalyzerError(f"policy pack at {self.pack_dir} did not start: {reason}")
        return int(text)

    def close(self) -> None:
        channel = getattr(self, "_channel", None)
        if channel is not None:
            channel.close()
        stop_child(self._proc)
        self._engine_server.stop(0)

    @property
    def pid(self) -> int:
        """The pack process, for benchmarks that read its CPU time."""
        return self._proc.pid

    def __enter__(self) -> PolicyPackClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- protocol ------------------------------------------------------------------------

    def info(self) -> Any:
        return self.stub.GetAnalyzerInfo(empty_pb2.Empty())

    def describe(self) -> PackInfo:
        info = self.info()
        policies = []
        for p in info.policies:
            fw = p.framework
            framework = {
                k: v
                for k, v in (
                    ("name", fw.name),
                    ("version", fw.version),
                    ("reference", fw.reference),
                    ("specification", fw.specification),
                )
                if v
            }
            schema = _whole_numbers(json_format.MessageToDict(p.configSchema.properties))
            policies.append(
                PolicyMeta(
                    name=p.name,
                    description=p.description,
                    enforcement_level=_LEVELS.get(p.enforcementLevel, "advisory"),
                    severity=_SEVERITIES.get(p.severity, ""),
                    remediation=p.remediation_steps,
                    url=p.url,
                    tags=tuple(p.tags),
                    framework=framework,
                    config_schema=schema,
                    config_required=tuple(p.configSchema.required),
                )
            )
        return PackInfo(info.name, self.version or info.version, self.pack_dir, tuple(policies))

    def plugin_version(self) -> str:
        return str(self.stub.GetPluginInfo(empty_pb2.Empty()).version)

    def configure(self, policy_config: Mapping[str, Mapping[str, Any]]) -> None:
        """Per-policy config: {name: {"enforcementLevel": "...", <property>: value}}."""
        request = analyzer_pb2.ConfigureAnalyzerRequest()
        self._remediating = None
        for name, cfg in policy_config.items():
            props = {k: v for k, v in cfg.items() if k != "enforcementLevel"}
            entry = analyzer_pb2.PolicyConfig(properties=_struct(props))
            level = cfg.get("enforcementLevel")
            if isinstance(level, str):
                if level not in _LEVEL_CODES:
                    raise ValueError(
                        f"policy {name}: enforcementLevel {level!r} is not one of "
                        f"{sorted(_LEVEL_CODES)}"
                    )
                cast(Any, entry).enforcementLevel = _LEVEL_CODES[level]
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
            type=prov.type, properties=_struct(prov.inputs), urn=prov.urn, name=prov.name
        )

    @staticmethod
    def _options(r: RegisteredResource) -> analyzer_pb2.AnalyzerResourceOptions:
        o = r.options
        return analyzer_pb2.AnalyzerResourceOptions(
            protect=bool(o.get("protect")),
            ignoreChanges=list(o.get("ignoreChanges", [])),
            additionalSecretOutputs=list(o.get("additionalSecretOutputs", [])),
            parent=r.parent,
        )

    def _request(
        self, r: RegisteredResource, by_urn: Mapping[str, RegisteredResource] | None
    ) -> analyzer_pb2.AnalyzeRequest:
        request = analyzer_pb2.AnalyzeRequest(
            type=r.type,
            properties=_struct(r.inputs),
            urn=r.urn,
            name=r.name,
            options=self._options(r),
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
                        urn=r.urn,
                        description=rem.description,
                        enforcement_level="advisory",
                        severity="",
                    )
                )
            elif rem.HasField("properties"):
                after = _whole_numbers(json_format.MessageToDict(rem.properties))
                fixes.append(
                    Remediation(
                        policy_name=rem.policyName,
                        pack_name=rem.policyPackName,
                        pack_version=rem.policyPackVersion,
                        description=rem.description,
                        urn=r.urn,
                        before=_whole_numbers(dict(r.inputs)),
                        after=after,
                    )
                )
                r = remediated(r, after)
        return r, fixes, notes

    def analyze(
        self, r: RegisteredResource, by_urn: Mapping[str, RegisteredResource] | None = None
    ) -> list[Violation]:
        request = self._request(r, by_urn)
        # Resource policies report without a URN; the engine attributes them to the resource.
        return [
            v if v.urn else dataclasses.replace(v, urn=r.urn)
            for v in _violations(self.stub.Analyze(request))
        ]

    def analyze_stack(self, resources: Iterable[RegisteredResource]) -> list[Violation]:
        items = list(resources)
        by_urn = {r.urn: r for r in items}
        request = analyzer_pb2.AnalyzeStackRequest()
        for r in items:
            ar = analyzer_pb2.AnalyzerResource(
                type=r.type,
                properties=_struct(r.outputs),
                urn=r.urn,
                name=r.name,
                options=self._options(r),
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
        return _violations(self.stub.AnalyzeStack(request))

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
