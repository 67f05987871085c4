"""What a policy pack answers: its policies' metadata, violations and remediations."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kmsguard.findings import Reported, report_fields
from kmsguard.findings_file import FindingsFile
from kmsguard.preview.collect import RegisteredResource

# The SDK reports an UnknownValueError raised by a rule as an advisory with this prefix, the
# version being its own default rather than the pack's; the pack raises one to defer a check.
CANT_RUN = re.compile(
    r"can't run (?:policy|remediation) '[^']*' from policy pack '[^']*' during preview: "
)


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
    # The findings behind the diagnostic, as data, when the pack recorded them (see
    # kmsguard.findings_file); () when it did not: the report then has no code for it.
    findings: tuple[Reported, ...] = ()

    @property
    def detail(self) -> str:
        """The message without the policy description the SDK prepends."""
        if self.message.startswith(self.description + "\n"):
            return self.message[len(self.description) + 1 :]
        return self.message

    @property
    def sent(self) -> str:
        """The text as the pack passed it to the SDK: a violation's message, or the reason of
        an UnknownValueError (a deferral), without what the SDK adds around it."""
        m = CANT_RUN.match(self.detail)
        return self.detail[m.end() :] if m else self.detail

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "policy": self.policy_name,
            "level": self.enforcement_level,
            # A pack may leave a policy's severity unset; JSON says so rather than "".
            "severity": self.severity or "unspecified",
            "urn": self.urn,
            "message": self.detail,
            **report_fields(self.findings),
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


def joined(file: FindingsFile, found: list[Violation]) -> list[Violation]:
    """Each diagnostic of the call just made with the findings the pack recorded for it,
    matched by (policy, URN, text) as the pack sent them, never by reading the text; one
    without a record keeps none (its report has no code). Records left over are dropped."""
    file.take()
    out = [
        dataclasses.replace(v, findings=file.claim((v.policy_name, v.urn, v.sent))) for v in found
    ]
    file.forget()
    return out


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
