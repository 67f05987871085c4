"""stack-key-access-matches-declared: whoever can become a key-user role is a key user too."""

from __future__ import annotations

import json
from itertools import pairwise
from typing import Any

import pytest

from kmsguard.contract import AwsType, Sid
from kmsguard.keypolicy import KeyPolicyRoles, build_key_policy
from policies.rules import stack_key_access_matches_declared as rule
from tests.access.docs import row
from tests.policies.helpers import ACCOUNT, ADMIN, KEY_ARN, Res, key_props, run_rule, stack_args

READER = f"arn:aws:iam::{ACCOUNT}:role/reader"
HOP = f"arn:aws:iam::{ACCOUNT}:role/hop"
DEV = f"arn:aws:iam::{ACCOUNT}:user/dev"
ROOT = f"arn:aws:iam::{ACCOUNT}:root"
OTHER = "111122223333"
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


def key(*users: str) -> Res:
    policy = build_key_policy(
        KeyPolicyRoles(
            account_id=ACCOUNT, region="us-east-1", administrators=[ADMIN], users=list(users)
        )
    )
    return Res(AwsType.KMS_KEY, "key", {**key_props(policy=json.dumps(policy)), "arn": KEY_ARN})


def trust(principal: Any, action: Any = "sts:AssumeRole", **extra: Any) -> dict[str, Any]:
    st = {"Effect": "Allow", "Principal": principal, "Action": action, **extra}
    return {"Version": "2012-10-17", "Statement": [st]}


def role(arn: str, trust_policy: Any) -> Res:
    name = arn.rsplit("/", 1)[-1]
    text = trust_policy if isinstance(trust_policy, str) else json.dumps(trust_policy)
    return Res(AwsType.IAM_ROLE, name, {"name": name, "arn": arn, "assumeRolePolicy": text})


def user(arn: str = DEV) -> Res:
    name = arn.rsplit("/", 1)[-1]
    return Res(AwsType.IAM_USER, name, {"name": name, "arn": arn})


def may_assume(holder: Res, resource: str = "*", **extra: Any) -> Res:
    """An inline policy letting a user or role call sts:AssumeRole."""
    st = {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": resource, **extra}
    doc = {"Version": "2012-10-17", "Statement": [st]}
    kind = "user" if holder.rtype == AwsType.IAM_USER else "role"
    rtype = AwsType.IAM_USER_POLICY if kind == "user" else AwsType.IAM_ROLE_POLICY
    return Res(
        rtype,
        f"{holder.name}-assume",
        {kind: holder.name, "policy": json.dumps(doc)},
        **{kind: [holder.urn]},
    )


def run(*items: Res, config: dict[str, Any] | None = None) -> Any:
    return run_rule(rule, stack_args(list(items), config))


AFTER = f"path after assuming: kms:Decrypt as {READER}: key policy statement {Sid.USERS!r}"


@pytest.mark.parametrize(
    "trust_policy",
    [
        pytest.param(trust({"AWS": "*"}), id="AWS star"),
        pytest.param(trust("*"), id="star"),
        pytest.param(trust({"AWS": ["*", ROOT]}, "sts:*"), id="star among others, sts:*"),
        pytest.param(trust({"AWS": "*"}, "STS:assumerole"), id="action case"),
        pytest.param(trust({"AWS": "*"}, "*"), id="any action"),
        pytest.param(
            {
                "Version": "2012-10-17",
                "Statement": {
                    "Effect": "Allow",
                    "Principal": {"AWS": "*"},
                    "NotAction": "sts:TagSession",
                },
            },
            id="NotAction, one statement object",
        ),
    ],
)
def test_a_world_assumable_key_user_role_is_a_violation(trust_policy: Any) -> None:
    r = run(key(READER), role(READER, trust_policy))
    [text] = r.texts
    assert text.startswith(
        f"Key 'key': role {READER} can kms:Decrypt and principals that are not declared key "
        "users can assume it: any principal of any account (trust policy statement 0)"
    ), text
    assert AFTER in text
    assert r.messages[0][1].endswith("::reader")


def test_allow_with_not_principal_lets_everyone_else_in() -> None:
    doc = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "NotPrincipal": {"AWS": DEV}, "Action": "sts:AssumeRole"}
        ],
    }
    [text] = run(key(READER), role(READER, doc)).texts
    assert f"any principal but {DEV} (trust policy statement 0)" in text


def test_a_stack_user_that_can_assume_a_key_user_role_is_a_key_user() -> None:
    u = user()
    r = run(key(READER), role(READER, trust({"AWS": ROOT})), u, may_assume(u, READER))
    [text] = r.texts
    assert text == (
        f"Key 'key': {DEV} can kms:Decrypt by becoming a role but is not a declared key user; "
        f"path: sts:AssumeRole {READER} (trust policy statement 0 + identity policy UserPolicy "
        "dev-assume (identity[0] statement 0)), then kms:Decrypt as "
        f"{READER}: key policy statement {Sid.USERS!r}"
    )
    assert r.messages[0][1] == u.urn


def test_a_declared_user_may_assume_a_key_user_role() -> None:
    u = user()
    r = run(key(READER, DEV), role(READER, trust({"AWS": ROOT})), u, may_assume(u, READER))
    assert r.messages == [] and r.deferred == []


def test_role_chaining_is_followed_with_the_whole_chain() -> None:
    u = user()
    items = [
        key(READER),
        role(READER, trust({"AWS": HOP})),  # names the hop: no identity policy needed
        role(HOP, trust({"AWS": DEV})),
        u,
    ]
    r = run(*items)
    assert len(r.texts) == 2, r.texts
    hop, dev = r.texts
    assert hop.startswith(f"Key 'key': {HOP} can kms:Decrypt by becoming a role")
    assert dev.startswith(f"Key 'key': {DEV} can kms:Decrypt by becoming a role")
    assert (
        f"path: sts:AssumeRole {HOP} (trust policy statement 0), then sts:AssumeRole {READER} "
        f"(trust policy statement 0), then kms:Decrypt as {READER}" in dev
    )


def test_a_chain_through_a_loop_of_roles_ends() -> None:
    items = [key(READER), role(READER, trust({"AWS": HOP})), role(HOP, trust({"AWS": READER}))]
    [text] = run(*items).texts
    assert text.startswith(f"Key 'key': {HOP} can kms:Decrypt by becoming a role")


def test_an_identity_policy_alone_does_not_open_a_role_trusting_someone_else() -> None:
    u = user()
    other = f"arn:aws:iam::{ACCOUNT}:user/ops"
    items = [key(READER, other), role(READER, trust({"AWS": other})), u, may_assume(u)]
    assert run(*items).texts == []


def test_a_boundary_without_assume_role_stops_the_chain() -> None:
    u = user()
    boundary = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"}],
    }
    pol = Res(
        AwsType.IAM_POLICY,
        "b",
        {"arn": f"arn:aws:iam::{ACCOUNT}:policy/b", "policy": json.dumps(boundary)},
    )
    u.props["permissionsBoundary"] = f"arn:aws:iam::{ACCOUNT}:policy/b"
    u.deps["permissionsBoundary"] = [pol.urn]
    items = [key(READER), role(READER, trust({"AWS": ROOT})), pol, u, may_assume(u, READER)]
    assert run(*items).texts == []


@pytest.mark.parametrize(
    ("principal", "named"),
    [
        ({"AWS": f"arn:aws:iam::{OTHER}:root"}, f"any principal of account {OTHER}"),
        ({"AWS": OTHER}, f"any principal of account {OTHER}"),
        ({"AWS": f"arn:aws:iam::{ACCOUNT}:user/ghost"}, f"arn:aws:iam::{ACCOUNT}:user/ghost"),
        (
            {"AWS": f"arn:aws:sts::{ACCOUNT}:assumed-role/x/s"},
            f"arn:aws:sts::{ACCOUNT}:assumed-role/x/s",
        ),
        (
            {"Federated": f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.example.com"},
            f"identities of arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.example.com",
        ),
    ],
)
def test_undeclared_principals_outside_the_stack_are_named(principal: Any, named: str) -> None:
    action = ["sts:AssumeRole", "sts:AssumeRoleWithWebIdentity"]
    [text] = run(key(READER), role(READER, trust(principal, action))).texts
    assert f"can assume it: {named}" in text, text


def test_conditions_do_not_hide_a_way_in_but_are_said() -> None:
    cond = {"StringEquals": {"aws:PrincipalOrgID": "o-abcdefghij"}}
    [text] = run(key(READER), role(READER, trust({"AWS": "*"}, Condition=cond))).texts
    assert "any principal of any account (trust policy statement 0, when its conditions hold)" in (
        text
    )


def test_declared_outsiders_and_own_account_root_are_no_finding() -> None:
    ghost = f"arn:aws:iam::{ACCOUNT}:user/ghost"
    both = trust({"AWS": [ghost, f"arn:aws:iam::{OTHER}:root", ROOT]})
    config = {"extraDeclaredKeyUsers": [ghost, f"arn:aws:iam::{OTHER}:root"]}
    assert run(key(READER), role(READER, both), config=config).texts == []


def test_a_service_assuming_a_key_user_role_acts_as_it() -> None:
    row_name = row("trust-become")
    r = run(key(READER), role(READER, trust({"Service": "lambda.amazonaws.com"})))
    assert r.texts == [] and r.deferred == [], row_name


def test_a_role_that_cannot_decrypt_may_be_world_assumable_here() -> None:
    other = role(f"arn:aws:iam::{ACCOUNT}:role/public", trust({"AWS": "*"}))
    assert run(key(READER), role(READER, trust({"AWS": ROOT})), other).texts == []


@pytest.mark.parametrize(
    ("trust_policy", "reason"),
    [
        (UNKNOWN, f"the trust policy of role {READER} is unknown during preview"),
        ("{not json", f"cannot tell who can become role {READER}: assumeRolePolicy"),
        (
            {**trust({"AWS": "*"}), "Statement": [{**trust("*")["Statement"][0], "Resource": "*"}]},
            "a role trust policy must not have Resource",
        ),
    ],
)
def test_a_trust_policy_that_cannot_be_read_is_deferred(trust_policy: Any, reason: str) -> None:
    r = run(key(READER), role(READER, trust_policy))
    assert r.texts == []
    assert any(reason in d for d in r.deferred), r.deferred


def test_a_long_chain_of_roles_is_followed_to_its_end() -> None:
    # Each role trusts the next by ARN; no recursion, each role examined once.
    arns = [f"arn:aws:iam::{ACCOUNT}:role/hop{i}" for i in range(300)]
    roles = [role(READER, trust({"AWS": arns[0]}))]
    roles += [role(a, trust({"AWS": b})) for a, b in pairwise(arns)]
    roles.append(role(arns[-1], trust({"Service": "ec2.amazonaws.com"})))
    texts = run(key(READER), *roles).texts
    assert [t.split(" ")[2] for t in texts] == arns
    # The witness shows the first steps and sums up the rest, so findings stay linear in size.
    assert f"292 more sts:AssumeRole steps, then kms:Decrypt as {READER}" in texts[-1]
    assert texts[-1].count(f"sts:AssumeRole {arns[0]} ") == 0
    assert texts[-1].count("sts:AssumeRole arn:") == 8


PROGRAM = """
import json

import pulumi
import pulumi_aws as aws

account = aws.get_caller_identity().account_id
trust = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}],
}
aws.iam.Role("reader", name="reader", assume_role_policy=json.dumps(trust))
key_policy = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "EnableRootAccountIamDelegation",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
            "Action": "kms:*",
            "Resource": "*",
        },
        {
            "Sid": "KeyUsers",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{account}:role/reader"},
            "Action": ["kms:Decrypt", "kms:DescribeKey"],
            "Resource": "*",
        },
    ],
}
key = aws.kms.Key(
    "orders", enable_key_rotation=True, deletion_window_in_days=30, policy=json.dumps(key_policy)
)
pulumi.export("keyArn", key.arn)
"""


def test_a_program_with_a_world_assumable_key_user_role_fails_the_preview(tmp_path: Any) -> None:
    from kmsguard.preview.__main__ import main

    (tmp_path / "Pulumi.yaml").write_text("name: world-assumable\nruntime:\n  name: python\n")
    (tmp_path / "Pulumi.dev.yaml").write_text(
        'config:\n  aws:region: us-west-2\n  aws:allowedAccountIds:\n    - "444455556666"\n'
    )
    (tmp_path / "__main__.py").write_text(PROGRAM)
    report = tmp_path / "report.json"
    code = main(["--program", str(tmp_path), "--stack", "dev", "--json", str(report)])
    assert code == 1
    [outcome] = json.loads(report.read_text())
    found = [(v["policy"], v["level"]) for v in outcome["violations"]]
    assert found == [("stack-key-access-matches-declared", "mandatory")]
    assert outcome["violations"][0]["message"].startswith(
        "Key 'orders': role arn:aws:iam::444455556666:role/reader can kms:Decrypt and principals "
        "that are not declared key users can assume it: any principal of any account"
    )


def test_an_assumer_whose_policy_is_unknown_is_deferred() -> None:
    u = user()
    p = Res(AwsType.IAM_USER_POLICY, "p", {"user": "dev", "policy": UNKNOWN}, user=[u.urn])
    r = run(key(READER), role(READER, trust({"AWS": ROOT})), u, p)
    assert r.texts == []
    assert any(
        f"whether {DEV} can assume {READER} depends on policies unknown now" in d
        for d in r.deferred
    ), r.deferred
