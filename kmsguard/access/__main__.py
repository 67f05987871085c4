"""CLI: `decide` scenarios from stdin, `expand` action patterns, `diff`/`public` key policies."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from kmsguard.access.catalog import (
    SUGGESTED_PER_DOCUMENT,
    action_exists,
    closest_actions,
    expand_actions,
    quoted,
    unknown_action_message,
    unknown_actions,
)
from kmsguard.access.errors import PolicyDocumentError
from kmsguard.access.evaluate import Decision, decide
from kmsguard.access.policy import PolicyKind


def _findings(scenario: Any) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    docs = [(f"identity[{i}]", d) for i, d in enumerate(scenario.get("identity_policies") or [])]
    for label in ("resource", "trust"):
        if scenario.get(f"{label}_policy") is not None:
            docs.append((label, scenario[f"{label}_policy"]))
    for label, doc in docs:
        kind: PolicyKind = (
            "resource" if label == "resource" else "trust" if label == "trust" else "identity"
        )
        for path, action in unknown_actions(doc, kind=kind):
            out.append({"policy": label, "path": path, "action": action})
    return out


def unknown_action_warnings(findings: list[dict[str, str]]) -> list[str]:
    """One line per policy action that matches nothing in the catalog, with likely intents."""
    lines = []
    for i, f in enumerate(findings):
        close = closest_actions(f["action"]) if i < SUGGESTED_PER_DOCUMENT else []
        hint = f" (closest: {', '.join(close)})" if close else ""
        lines.append(
            f"{f['policy']} {f['path']}: {quoted(f['action'])} matches no action in the IAM "
            f"catalog, so it grants or denies nothing{hint}"
        )
    return lines


def _render(scenario: Any, decision: Decision, explain: bool) -> dict[str, Any]:
    out = decision.to_json()
    if explain:
        out["detail"] = decision.detail
        out["message"] = decision.message()
        out["unknown_actions"] = _findings(scenario)
    return out


_SHAPE = "expected a scenario object or a list of them"


def _cmd_decide(explain: bool) -> int:
    text = sys.stdin.read()
    if not text.strip():
        print(f"kmsguard.access: stdin is empty; {_SHAPE}", file=sys.stderr)
        return 2
    try:
        data = json.loads(text)
    except ValueError as exc:
        print(f"kmsguard.access: stdin is not JSON ({exc}); {_SHAPE}", file=sys.stderr)
        return 2
    except RecursionError:
        print(f"kmsguard.access: stdin is nested too deeply to read; {_SHAPE}", file=sys.stderr)
        return 2
    scenarios = data if isinstance(data, list) else [data]
    results = []
    problems = []
    warnings: list[str] = []
    # Every bad scenario is named at once, so a batch is fixed in one round; nothing is printed
    # on stdout then, since a partial answer list would misalign with the input indices.
    for i, scenario in enumerate(scenarios):
        where = f"scenario[{i}]: " if isinstance(data, list) else ""
        try:
            decision = decide(scenario)
        except PolicyDocumentError as exc:
            problems.append(f"kmsguard.access: {where}{exc}")
            continue
        action = scenario["action"]
        # A request for an action AWS does not have is a typo, never a question with an answer:
        # policies with a wildcard would otherwise "allow" it.
        if not action_exists(action):
            problems.append(f"kmsguard.access: {where}action: {unknown_action_message(action)}")
            continue
        results.append(_render(scenario, decision, explain))
        warnings.extend(f"{where}{w}" for w in unknown_action_warnings(_findings(scenario)))
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 2
    for w in warnings:
        print(f"kmsguard.access: warning: {w}", file=sys.stderr)
    json.dump(results if isinstance(data, list) else results[0], sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


SCENARIO_FORMAT = """\
stdin: one scenario, a JSON object, or a list of them:
  principal          who asks: an IAM ARN (user, role, assumed-role session, root)
                     or a service principal such as dynamodb.amazonaws.com
  action             one concrete service:Action, e.g. kms:Decrypt
  resource           the resource's ARN, e.g. the key's
  context            optional: condition keys and their values (string, number,
                     boolean, or a list of them), e.g. {"kms:ViaService": "..."}
  identity_policies  optional: the principal's identity policy documents (a list)
  resource_policy    optional: the resource's policy document, e.g. the key policy
  trust_policy       optional: a role's trust policy, for sts:AssumeRole* on it
  permissions_boundary
                     optional: the principal's permissions boundary document
  session_policies   optional: session policy documents of an assumed-role session
  scps, rcps         optional: service / resource control policies, one document
                     per level of the organization (root, OUs, account)
  vpce_policy        optional: a VPC endpoint policy (applies with aws:SourceVpce)
  grants             optional: KMS grants as ListGrants returns them (GranteePrincipal,
                     Operations, KeyId, Constraints)
  request_time       optional: ISO 8601 time of the request (aws:CurrentTime)
  name, description, comment, expect, expected: optional, ignored
stdout: {"effect": "allow" | "implicit_deny" | "explicit_deny", "reason": ...,
"statements": [the statements that decided]}, a list for a list of scenarios.
Exit 0: decided; 2: bad input (every bad scenario named on stderr, nothing on stdout).
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m kmsguard.access", description="AWS IAM/KMS access decisions."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p_decide = sub.add_parser(
        "decide",
        help="decide scenario(s) read as JSON on stdin",
        description="Decide allow, implicit deny or explicit deny as AWS would, and say why.",
        epilog=SCENARIO_FORMAT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p_decide.add_argument(
        "--explain", action="store_true", help="add detail, AWS's message and unknown actions"
    )
    p_expand = sub.add_parser(
        "expand", help="list catalog actions matching a pattern (exit 1 when none does)"
    )
    p_expand.add_argument("pattern")
    from kmsguard.access.prove import cli as prove_cli
    from kmsguard.access.prove import readers_cli

    prove_cli.add_commands(sub)
    readers_cli.add_command(sub)
    args = parser.parse_args(argv)
    try:
        if args.command == "decide":
            return _cmd_decide(args.explain)
        if args.command in ("diff", "public"):
            return prove_cli.run(args)
        if args.command == "readers":
            return readers_cli.run(args)
        return _cmd_expand(args.pattern)
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly; devnull absorbs the final flush.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def _cmd_expand(pattern: str) -> int:
    try:
        actions = expand_actions(pattern)
    except ValueError as exc:
        print(f"kmsguard.access: {exc}", file=sys.stderr)
        return 2
    if not actions:
        # Like grep: no match is exit 1, said on stderr so it is never mistaken for success.
        print(f"kmsguard.access: no catalog action matches {quoted(pattern)}", file=sys.stderr)
        return 1
    print("\n".join(actions))
    return 0


if __name__ == "__main__":
    sys.exit(main())
