"""Start a policy pack as the Pulumi CLI does and drive its Analyzer gRPC protocol."""

from __future__ import annotations

import dataclasses
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

    @property
    def detail(self) -> str:
        """The message without the policy description the SDK prepends."""
        if self.message.startswith(self.description + "\n"):
            return self.message[len(self.description) + 1 :]
        return self.message

    def to_json(self) -> dict[str, str]:
        return {
            "policy": self.policy_name,
            "level": self.enforcement_level,
            "severity": self.severity,
            "urn": self.urn,
            "message": self.detail,
        }


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

    def analyze(
        self, r: RegisteredResource, by_urn: Mapping[str, RegisteredResource] | None = None
    ) -> list[Violation]:
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
        """Analyze each resource, then the stack: what the engine does during preview and update."""
        items = list(resources)
        by_urn = {r.urn: r for r in items}
        out: list[Violation] = []
        for r in items:
            out.extend(self.analyze(r, by_urn))
        out.extend(self.analyze_stack(items))
        return out


_ = plugin_pb2  # imported for its message registrations used by GetPluginInfo
