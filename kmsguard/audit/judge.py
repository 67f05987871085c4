"""The pack's own rules over the discovered stacks, through the analyzer the preview drives."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from kmsguard.audit.findings import PLAN_ONLY, Finding, Skipped
from kmsguard.audit.model import PROJECT, Stack
from kmsguard.findings import DEFERRED_PREFIX
from kmsguard.org_policies import OrgPolicies
from kmsguard.preview import policy_config
from kmsguard.preview.analyzer import PolicyPackClient
from kmsguard.preview.collect import RegisteredResource
from kmsguard.preview.diagnostics import PackInfo, Violation
from kmsguard.preview.pack_dir import PACK_DIR
from kmsguard.preview.report import present

KEY_ACCESS_RULE = "stack-key-access-matches-declared"
READERS_RULE = "dynamodb-table-readers-match-declared"
# The rules that take the organization's SCPs and RCPs (--org-policies) as settings.
ORG_RULES = (KEY_ACCESS_RULE, READERS_RULE)
Progress = Callable[[str, int, int], None]
# A stack rule's finding without a URN names its resource first: "Key 'id': ..."
_LABEL = re.compile(r"^(Key|Table|TableReplica) '([^']+)'")


def pack_config(
    given: Mapping[str, Any], org: OrgPolicies | None, names: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """The --policy-config as the engine hands it over, plus the organization's policies, with
    the plan-only rules disabled."""
    out = policy_config.normalize(given, names)
    if org is not None and (org.scps or org.rcps):
        for rule in (r for r in ORG_RULES if r in names):
            mine = out.setdefault(rule, {})
            for setting in ("serviceControlPolicies", "resourceControlPolicies"):
                if setting in mine:
                    raise ValueError(
                        f"--policy-config sets {rule}.{setting} and --org-policies is "
                        "given: give the organization's policies one way"
                    )
            mine["serviceControlPolicies"] = [json.loads(p.source) for p in org.scps]
            mine["resourceControlPolicies"] = [json.loads(p.source) for p in org.rcps]
    for name in PLAN_ONLY:
        if name in names:
            out.setdefault(name, {})["enforcementLevel"] = "disabled"
    return out


class _Index:
    """A stack's resources by URN and by (kind, name), built once: a lookup per diagnostic."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.by_urn = {r.urn: r for r in stack.resources}
        self.by_label: dict[tuple[str, str], RegisteredResource] = {}
        for r in stack.resources:
            self.by_label.setdefault((r.type.rsplit(":", 1)[-1], r.name), r)

    def arn_for(self, v: Violation) -> tuple[str, str]:
        """(ARN, pulumi type) of the resource a diagnostic is about: its URN, else its
        finding's, else the one its finding (or, unrecorded, its text) names; the account's
        otherwise."""
        r = self.by_urn.get(v.urn)
        first = v.findings[0].finding if v.findings else None
        if r is None and first is not None and first.urn:
            r = self.by_urn.get(first.urn)
        if r is None:
            named = first.resource if first is not None else v.detail.removeprefix(DEFERRED_PREFIX)
            m = _LABEL.match(named)
            if m:
                r = self.by_label.get((m.group(1), m.group(2)))
        if r is None:
            return self.stack.arn_of.get(self.stack.resources[0].urn, ""), ""
        return self.stack.arn_of.get(r.urn, ""), r.type

    def finding(self, v: Violation) -> Finding:
        arn, type_ = self.arn_for(v)
        level = "deferred" if v.deferred else v.enforcement_level
        return Finding(arn, v.policy_name, level, v.severity, v.detail, type_, v.findings)


def start_pack(
    stack: ExitStack,
    account: str,
    config: Mapping[str, Any] | None,
    config_path: str,
    org: OrgPolicies | None,
    pack_dir: Path = PACK_DIR,
) -> tuple[PolicyPackClient, PackInfo]:
    """The pack started and configured (before anything is read from AWS: a bad config is
    refused first); ValueError names what is wrong in the config."""
    client = stack.enter_context(
        PolicyPackClient(pack_dir, project=PROJECT, stack=account, preview=False)
    )
    info = client.describe()
    names = [p.name for p in info.policies]
    schemas = {p.name: dict(p.config_schema) for p in info.policies}
    required = {p.name: p.config_required for p in info.policies}
    if config:
        policy_config.check(config_path, config, schemas, required)
    client.configure(pack_config(config or {}, org, names))
    return client, info


def run_pack(
    client: PolicyPackClient, info: PackInfo, stacks: Sequence[Stack], progress: Progress
) -> tuple[list[Finding], list[Skipped]]:
    """Analyze each resource once (IAM is in every region's stack), then each region's stack."""
    findings: list[Finding] = []
    seen: set[tuple[str, str, str, str]] = set()
    analyzed: set[str] = set()
    total = sum(len(s.resources) for s in stacks) + len(stacks)
    done = 0
    for stack in stacks:
        index = _Index(stack)
        by_urn = index.by_urn
        out: list[Violation] = []
        for r in stack.resources:
            if r.urn not in analyzed:
                analyzed.add(r.urn)
                out.extend(client.analyze(r, by_urn))
            done += 1
            if done % 50 == 0:
                progress("judge", done, total)
        out.extend(client.analyze_stack(stack.resources))
        done += 1
        progress("judge", done, total)
        for v in out:
            f = index.finding(present(v, [info]))
            mark = (f.rule, f.resource, f.level, f.message)
            if mark not in seen:
                seen.add(mark)
                findings.append(f)
    names = {p.name for p in info.policies}
    return findings, [Skipped(n, reason) for n, reason in PLAN_ONLY.items() if n in names]
