"""Rule metadata, policy configuration with defaults, and the deferred-to-verification report."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, cast

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyComplianceFramework,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError

from kmsguard.findings import Finding, Reported, deferral, message
from kmsguard.findings_file import emit

PACK_NAME = "kmsguard-policies"


@dataclass(frozen=True)
class Control:
    """A public control the rule maps to (Security Hub, CIS)."""

    framework: str
    reference: str
    version: str = ""


@dataclass(frozen=True)
class RuleMeta:
    name: str
    description: str
    enforcement_level: EnforcementLevel
    severity: Severity
    remediation: str
    controls: tuple[Control, ...] = ()
    config: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    # Why the rule has no remediation function (level `remediate` cannot fix it), if it has none.
    no_remediation: str = ""
    # Every kind of finding the rule reports: stable kebab-case code -> one-line description.
    codes: Mapping[str, str] = field(default_factory=dict)

    def finding(
        self,
        code: str,
        resource: str,
        detail: str,
        witness: Mapping[str, Any] | None = None,
        urn: str | None = None,
    ) -> Finding:
        """A finding of this rule; the code must be one the rule declares."""
        if code not in self.codes:
            raise ValueError(f"rule {self.name} declares no finding code {code!r}")
        return Finding(self.name, code, resource, detail, dict(witness or {}), urn)

    def defaults(self) -> dict[str, Any]:
        return {k: v.get("default") for k, v in self.config.items()}

    def steps(self, remediable: bool) -> str:
        """The remediation steps the pack publishes, saying whether the pack can fix it."""
        if remediable:
            return self.remediation
        why = self.no_remediation or STACK_POLICIES_UNREMEDIABLE
        return f"{self.remediation} No automatic remediation: {why}."


# The engine sends Remediate per resource; a stack policy has nothing to return new properties to.
STACK_POLICIES_UNREMEDIABLE = (
    "it checks the stack as a whole, and the Pulumi engine remediates single resources only"
)


class Deferred(UnknownValueError):
    """Raised after definite violations are reported, so the SDK records an advisory.

    The SDK turns an UnknownValueError into an advisory diagnostic carrying the rule's name
    ("can't run policy ... during preview: <message>"), which is exactly the report wanted
    for a check that only a deployed stack can settle.
    """

    def __init__(self, reasons: list[str], advice: list[str] | None = None) -> None:
        super().__init__(UNKNOWN_STRING_VALUE, [])
        self.reasons = reasons
        self.advice = advice or []
        self.message = deferral(self.reasons, self.advice)


@dataclass
class Recorded:
    """The findings of the rule runs inside `recording()`, as data."""

    violations: list[Finding] = field(default_factory=list)
    deferred: list[Finding] = field(default_factory=list)
    advice: list[Finding] = field(default_factory=list)


# The analyzer protocol carries a diagnostic's message only; a caller running the pack in its
# own process (the tests, a library user) gets the findings themselves through this.
_RECORDING: ContextVar[Recorded | None] = ContextVar("kmsguard_findings", default=None)


@contextmanager
def recording() -> Iterator[Recorded]:
    """Collect, as data, every finding the rules report in this context."""
    rec = Recorded()
    token = _RECORDING.set(rec)
    try:
        yield rec
    finally:
        _RECORDING.reset(token)


class Findings:
    """Collects violations and deferrals of one rule run; `finish` raises Deferred if any."""

    def __init__(self, report: ReportViolation, meta: RuleMeta) -> None:
        self._report = report
        self.meta = meta  # the rule reporting: shared helpers make its findings with it
        self._recorded = _RECORDING.get()
        self.deferred: list[str] = []
        self.advice: list[str] = []
        self._found: list[Reported] = []

    def violation(self, finding: Finding) -> None:
        if self._recorded is not None:
            self._recorded.violations.append(finding)
        text = message(finding)
        emit(self.meta.name, finding.urn or "", text, [Reported(finding)])
        self._report(text, finding.urn)

    def defer(self, finding: Finding) -> None:
        if self._recorded is not None:
            self._recorded.deferred.append(finding)
        self._found.append(Reported(finding, deferred=True))
        self.deferred.append(message(finding))

    def advise(self, finding: Finding) -> None:
        """A finding worth a warning whatever the rule's level (the SDK reports it advisory)."""
        if self._recorded is not None:
            self._recorded.advice.append(finding)
        self._found.append(Reported(finding))
        self.advice.append(message(finding))

    def finish(self) -> None:
        if self.deferred or self.advice:
            deferred = Deferred(self.deferred, self.advice)
            # One diagnostic for all of them, advice first, as `deferral` words it; the SDK
            # sends it without a URN.
            found = sorted(self._found, key=lambda r: r.deferred)
            emit(self.meta.name, "", deferred.message, found)
            raise deferred


Args = ResourceValidationArgs | StackValidationArgs


def config_of(meta: RuleMeta, args: Args) -> dict[str, Any]:
    """The rule's configuration, defaults applied (the SDK passes only what the user set)."""
    merged = meta.defaults()
    try:
        given = args.get_config() or {}
    except Exception:
        given = {}
    for key, value in given.items():
        if key in merged and value is not None:
            merged[key] = value
    return merged


def str_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple):
        return [v for v in value if isinstance(v, str)]
    return []


def _framework(meta: RuleMeta) -> PolicyComplianceFramework | None:
    if not meta.controls:
        return None
    c = meta.controls[0]
    return PolicyComplianceFramework(
        name=c.framework, version=c.version or None, reference=c.reference
    )


def _tags(meta: RuleMeta) -> list[str]:
    return ["kms", "dynamodb", *(f"{c.framework}:{c.reference}" for c in meta.controls)]


def _schema(meta: RuleMeta) -> PolicyConfigSchema | None:
    if not meta.config:
        return None
    return PolicyConfigSchema(properties={k: dict(v) for k, v in meta.config.items()})


ResourceFn = Callable[[ResourceValidationArgs, ReportViolation], None]
StackFn = Callable[[StackValidationArgs, ReportViolation], None]
RemediateFn = Callable[[ResourceValidationArgs], Mapping[str, Any] | None]


def resource_policy(
    meta: RuleMeta, validate: ResourceFn, remediate: RemediateFn | None = None
) -> Policy:
    return ResourceValidationPolicy(
        name=meta.name,
        description=meta.description,
        validate=validate,
        # The SDK accepts a plain return value as well as an awaitable one.
        remediate=cast(Any, remediate),
        enforcement_level=meta.enforcement_level,
        config_schema=_schema(meta),
        severity=meta.severity,
        framework=_framework(meta),
        tags=_tags(meta),
        remediation_steps=meta.steps(remediate is not None),
    )


def stack_policy(meta: RuleMeta, validate: StackFn) -> Policy:
    return StackValidationPolicy(
        name=meta.name,
        description=meta.description,
        validate=validate,
        enforcement_level=meta.enforcement_level,
        config_schema=_schema(meta),
        severity=meta.severity,
        framework=_framework(meta),
        tags=_tags(meta),
        remediation_steps=meta.steps(False),
    )
