"""stack-key-access-matches-declared: whoever can become a key-user role is a key user too."""

from __future__ import annotations

import json
from itertools import pairwise
from typing import Any

import pytest

from kmsguard.contract import DYNAMODB_FULL_ACCESS_POLICY_ARN, AwsType, Sid
from kmsguard.keypolicy import KeyPolicyRoles, build_key_policy
from policies.rules import stack_key_access_matches_declared as rule
from tests.access.docs import row
from tests.policies.helpers import (
    ACCOUNT,
    ADMIN,
    KEY_ARN,
    USER,
    Res,
    key_props,
    run_rule,
    stack_args,
)

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
    [f] = r.found
    assert (f.rule, f.code, f.resource, f.witness["role"]) == (
        "stack-key-access-matches-declared",
        "role-assumable-by-undeclared",
        "Key 'key'",
        READER,
    )
    assert f.witness["assumers"] == ["any principal of any account (trust policy statement 0)"]
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
    [f] = r.found
    assert (f.code, f.witness["principal"], f.witness["action"]) == (
        "undeclared-key-user",
        DEV,
        "kms:Decrypt",
    )
    assert text == f"Key 'key': {f.detail}" and f.detail.endswith(f"path: {f.witness['path']}")
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
    ("trust_policy", "code", "reason"),
    [
        (
            UNKNOWN,
            "trust-policy-unknown",
            f"the trust policy of role {READER} is unknown during preview",
        ),
        (
            "{not json",
            "trust-policy-unreadable",
            f"cannot tell who can become role {READER}: assumeRolePolicy",
        ),
        (
            {**trust({"AWS": "*"}), "Statement": [{**trust("*")["Statement"][0], "Resource": "*"}]},
            "trust-policy-unreadable",
            "a role trust policy must not have Resource",
        ),
    ],
)
def test_a_trust_policy_that_cannot_be_read_is_deferred(
    trust_policy: Any, code: str, reason: str
) -> None:
    r = run(key(READER), role(READER, trust_policy))
    assert r.texts == []
    [f] = [f for f in r.deferred_found if f.code == code]
    assert f.witness["role"] == READER and reason in f.detail


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
    assert {"principal": DEV, "role": READER} in [
        f.witness for f in r.deferred_found if f.code == "principal-policies-unknown"
    ]
    assert any(
        f"whether {DEV} can assume {READER} depends on policies unknown now" in d
        for d in r.deferred
    ), r.deferred


def stack_key(**over):
    return Res(AwsType.KMS_KEY, "key", {**key_props(**over), "arn": over.get("arn", KEY_ARN)})


def stack_user(name="tester", arn=None):
    return Res(AwsType.IAM_USER, name, {"name": name, **({"arn": arn} if arn else {})})


def user_policy(u, statement):
    doc = {"Version": "2012-10-17", "Statement": [statement]}
    return Res(
        AwsType.IAM_USER_POLICY,
        f"{u.name}-policy",
        {"user": u.name, "policy": json.dumps(doc)},
        user=[u.urn],
    )


def _decrypt_policy_resource():
    doc = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"}],
    }
    return Res(
        AwsType.IAM_POLICY,
        "dec",
        {"arn": f"arn:aws:iam::{ACCOUNT}:policy/dec", "policy": json.dumps(doc)},
    )


DECRYPT_ALL = {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"}


def grant(grantee, ops=("Decrypt",), constraints=None, name="g1", key_dep=True):
    props = {"keyId": KEY_ARN, "granteePrincipal": grantee, "operations": list(ops)}
    if constraints is not None:
        props["constraints"] = constraints
    k = stack_key()
    return Res(AwsType.KMS_GRANT, name, props, **({"keyId": [k.urn]} if key_dep else {}))


def _boundary_policy(actions):
    doc = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}],
    }
    return Res(
        AwsType.IAM_POLICY,
        "boundary",
        {"arn": f"arn:aws:iam::{ACCOUNT}:policy/boundary", "policy": json.dumps(doc)},
    )


def _key_with(statement):
    from tests.policies.helpers import good_key_policy

    doc = good_key_policy()
    doc["Statement"].append(statement)
    return stack_key(policy=json.dumps(doc))


def test_access_baseline_managed_policy_gives_no_decrypt():
    u = stack_user()
    att = Res(
        AwsType.IAM_USER_POLICY_ATTACHMENT,
        "att",
        {"user": "tester", "policyArn": DYNAMODB_FULL_ACCESS_POLICY_ARN},
        user=[u.urn],
    )
    r = run_rule(rule, stack_args([stack_key(), u, att]))
    assert r.messages == [] and r.deferred == []


def test_access_declared_user_passes():
    u = stack_user("app", USER)
    st = {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"}
    assert run_rule(rule, stack_args([stack_key(), u, user_policy(u, st)])).messages == []


def test_access_through_root_delegation_is_reported_with_path():
    u = stack_user()  # ARN derived from name + account at preview
    st = {"Sid": "Wide", "Effect": "Allow", "Action": "kms:Decr*", "Resource": "*"}
    r = run_rule(rule, stack_args([stack_key(arn=UNKNOWN), u, user_policy(u, st)]))
    assert len(r.messages) == 1
    text = r.texts[0]
    assert (
        f"arn:aws:iam::{ACCOUNT}:user/tester can kms:Decrypt but is not a declared key user" in text
    )
    assert "root delegation" in text and "identity policy UserPolicy tester-policy" in text


def test_access_without_root_delegation_iam_alone_grants_nothing():
    u = stack_user()
    st = {"Effect": "Allow", "Action": "kms:*", "Resource": "*"}
    from tests.policies.helpers import good_key_policy

    k = stack_key(policy=json.dumps(good_key_policy(enable_root_delegation=False)))
    assert run_rule(rule, stack_args([k, u, user_policy(u, st)])).messages == []


def test_access_extra_declared_users_config():
    u = stack_user()
    st = {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"}
    cfg = {"extraDeclaredKeyUsers": [f"arn:aws:iam::{ACCOUNT}:user/tester"]}
    assert run_rule(rule, stack_args([stack_key(), u, user_policy(u, st)], cfg)).messages == []


def test_access_unknown_policy_is_deferred():
    u = stack_user()
    p = Res(AwsType.IAM_USER_POLICY, "p", {"user": "tester", "policy": UNKNOWN}, user=[u.urn])
    r = run_rule(rule, stack_args([stack_key(), u, p]))
    assert r.messages == [] and r.deferred_codes == ["principal-policies-unknown"]
    assert r.deferred[0].startswith(
        f"Key 'key': access of arn:aws:iam::{ACCOUNT}:user/tester depends on policies unknown now"
    )


def test_access_key_administrator_is_not_a_declared_key_user():
    # The admins' statement covers kms:DescribeKey (kms:Describe*), not kms:Decrypt.
    from tests.policies.helpers import ADMIN

    role = Res(AwsType.IAM_ROLE, "key-admin", {"name": "key-admin", "arn": ADMIN})
    pol = _decrypt_policy_resource()
    att = Res(
        AwsType.IAM_ROLE_POLICY_ATTACHMENT,
        "att",
        {"role": "key-admin", "policyArn": pol.props["arn"]},
        role=[role.urn],
        policyArn=[pol.urn],
    )
    r = run_rule(rule, stack_args([stack_key(), role, pol, att]))
    assert len(r.messages) == 1 and f"{ADMIN} can kms:Decrypt" in r.texts[0]
    assert "identity policy Policy dec (attached by att)" in r.texts[0]


def test_access_through_group_membership():
    u = stack_user()
    g = Res(AwsType.IAM_GROUP, "devs", {"name": "devs"})
    gp = Res(
        AwsType.IAM_GROUP_POLICY,
        "gp",
        {"group": "devs", "policy": _decrypt_policy_resource().props["policy"]},
        group=[g.urn],
    )
    gm = Res(
        "aws:iam/groupMembership:GroupMembership",
        "gm",
        {"group": "devs", "users": ["tester"]},
        group=[g.urn],
        users=[u.urn],
    )
    r = run_rule(rule, stack_args([stack_key(), u, g, gp, gm]))
    assert len(r.messages) == 1 and "GroupPolicy gp (via group devs)" in r.texts[0]
    assert run_rule(rule, stack_args([stack_key(), u, g, gp])).messages == []


def test_access_unknown_managed_policy_arns_are_deferred():
    role = Res(AwsType.IAM_ROLE, "r3", {"name": "r3", "managedPolicyArns": UNKNOWN})
    r = run_rule(rule, stack_args([stack_key(), role]))
    assert r.messages == [] and "managedPolicyArns unknown" in r.deferred[0]


def test_access_key_with_inline_policy_and_key_policy_resource_checks_both():
    from tests.policies.helpers import good_key_policy

    open_doc = good_key_policy()
    open_doc["Statement"].append(
        {"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*"}
    )
    k = stack_key(policy=json.dumps(open_doc))
    kp = Res(
        AwsType.KMS_KEY_POLICY,
        "kp",
        {"keyId": "k", "policy": json.dumps(good_key_policy())},
        keyId=[k.urn],
    )
    r = run_rule(rule, stack_args([k, kp, stack_user()]))
    assert r.codes == ["undeclared-key-user", "undeclared-outsider"]
    assert r.found[1].witness["witnesses"] and r.found[1].witness["complete"] in (True, False)
    assert "key-policy-in-two-places" in r.deferred_codes
    assert len(r.messages) == 2 and "user/tester can kms:Decrypt" in r.texts[0]
    assert "principals outside the stack can kms:Decrypt" in r.texts[1]
    assert any("has both KeyPolicy kp and inline policy" in d for d in r.deferred)


def test_access_key_policy_resource_alone_is_understood():
    from tests.policies.helpers import good_key_policy

    k = Res(AwsType.KMS_KEY, "key", {**key_props(policy=None), "arn": KEY_ARN})
    kp = Res(
        AwsType.KMS_KEY_POLICY,
        "kp",
        {"keyId": KEY_ARN, "policy": json.dumps(good_key_policy(enable_root_delegation=False))},
    )
    u = stack_user()
    st = {"Effect": "Allow", "Action": "kms:*", "Resource": "*"}
    # Without root delegation in the KeyPolicy, the IAM policy grants nothing.
    r = run_rule(rule, stack_args([k, kp, u, user_policy(u, st)]))
    assert r.messages == [] and r.deferred == []
    # The key alone (AWS default policy: root delegation) would let it decrypt.
    assert len(run_rule(rule, stack_args([k, u, user_policy(u, st)])).messages) == 1


def test_access_grant_to_an_undeclared_principal_is_a_violation_with_its_constraints():
    other = f"arn:aws:iam::{ACCOUNT}:user/intruder"
    g = grant(other, constraints=[{"encryptionContextSubset": {"Dept": "IT"}}])
    r = run_rule(rule, stack_args([stack_key(), g]))
    assert len(r.messages) == 1, r.texts
    [f] = r.found
    assert (f.code, f.urn, f.witness) == (
        "undeclared-grantee",
        g.urn,
        {
            "grant": "grant 'g1'",
            "principal": other,
            "constraints": "EncryptionContextSubset {'Dept': 'IT'}",
        },
    )
    assert (
        f"grant 'g1' lets {other} kms:Decrypt but it is not a declared key user "
        "(constraints: EncryptionContextSubset {'Dept': 'IT'})"
    ) in r.texts[0]
    assert r.messages[0][1] == g.urn


def test_access_grant_linked_by_key_identifier_counts():
    g = grant(f"arn:aws:iam::{ACCOUNT}:user/intruder", key_dep=False)
    assert len(run_rule(rule, stack_args([stack_key(), g])).messages) == 1


def test_access_grant_to_a_declared_key_user_passes():
    assert run_rule(rule, stack_args([stack_key(), grant(USER)])).messages == []


def test_access_grant_for_an_aws_service_passes():
    g = grant("dynamodb.us-east-1.amazonaws.com", ops=("Decrypt", "Encrypt", "RetireGrant"))
    assert run_rule(rule, stack_args([stack_key(), g])).messages == []


def test_access_grant_without_decrypt_passes():
    g = grant(f"arn:aws:iam::{ACCOUNT}:user/intruder", ops=("Encrypt", "DescribeKey"))
    assert run_rule(rule, stack_args([stack_key(), g])).messages == []


def test_access_grant_with_unknown_grantee_is_deferred():
    r = run_rule(rule, stack_args([stack_key(), grant(UNKNOWN)]))
    assert r.messages == [] and r.deferred_codes == ["grant-unknown"]
    assert r.deferred == ["Key 'key': grant 'g1': its grantee principal is unknown during preview"]


def test_access_grant_with_a_bad_operation_names_it():
    r = run_rule(
        rule, stack_args([stack_key(), grant(f"arn:aws:iam::{ACCOUNT}:user/x", ("Read",))])
    )
    assert r.codes == ["grant-malformed"] and r.found[0].witness["grant"] == "grant 'g1'"
    assert "grant 'g1'.Operations[0]: 'Read' is not a grant operation" in r.texts[0]


def test_access_grant_to_a_role_is_capped_by_the_role_boundary():
    b = _boundary_policy("dynamodb:*")
    role_arn = f"arn:aws:iam::{ACCOUNT}:role/worker"
    role = Res(
        AwsType.IAM_ROLE,
        "worker",
        {"name": "worker", "arn": role_arn, "permissionsBoundary": b.props["arn"]},
        permissionsBoundary=[b.urn],
    )
    assert run_rule(rule, stack_args([stack_key(), b, role, grant(role_arn)])).messages == []
    unbounded = Res(AwsType.IAM_ROLE, "worker", {"name": "worker", "arn": role_arn})
    assert len(run_rule(rule, stack_args([stack_key(), unbounded, grant(role_arn)])).messages) == 1


def test_access_permissions_boundary_removes_the_identity_grant():
    u = stack_user()
    st = {"Sid": "Wide", "Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"}
    b = _boundary_policy("dynamodb:*")
    bounded = Res(
        AwsType.IAM_USER,
        "tester",
        {"name": "tester", "permissionsBoundary": b.props["arn"]},
    )
    bounded.urn = u.urn
    assert run_rule(rule, stack_args([stack_key(), b, bounded, user_policy(u, st)])).messages == []
    assert len(run_rule(rule, stack_args([stack_key(), u, user_policy(u, st)])).messages) == 1


def test_access_boundary_allowing_decrypt_keeps_the_violation_and_shows_it():
    u = stack_user()
    b = _boundary_policy("kms:*")
    bounded = Res(
        AwsType.IAM_USER, "tester", {"name": "tester", "permissionsBoundary": b.props["arn"]}
    )
    bounded.urn = u.urn
    r = run_rule(rule, stack_args([stack_key(), b, bounded, user_policy(u, DECRYPT_ALL)]))
    assert len(r.messages) == 1 and "within boundary Policy boundary" in r.texts[0]


def test_access_scp_denying_decrypt_removes_the_violation():
    u = stack_user()
    scp = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Deny", "Action": "kms:Decrypt", "Resource": "*"}],
    }
    full = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
    }
    cfg = {"serviceControlPolicies": [full, scp]}
    assert (
        run_rule(rule, stack_args([stack_key(), u, user_policy(u, DECRYPT_ALL)], cfg)).messages
        == []
    )


def test_access_rcp_without_kms_allow_removes_the_violation():
    u = stack_user()
    rcp = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "*"}],
    }
    cfg = {"resourceControlPolicies": [rcp]}
    assert (
        run_rule(rule, stack_args([stack_key(), u, user_policy(u, DECRYPT_ALL)], cfg)).messages
        == []
    )


def test_access_malformed_scp_in_config_is_named():
    cfg = {"serviceControlPolicies": [{"Statement": [{"Effect": "Allow", "Action": "*"}]}]}
    r = run_rule(rule, stack_args([stack_key()], cfg))
    assert r.codes == ["org-policy-malformed"]
    assert r.found[0].resource == "policy config serviceControlPolicies[0]"
    assert r.texts[0].startswith(
        "policy config serviceControlPolicies[0]: Statement[0]: needs Resource or NotResource"
    )


def test_access_principals_outside_the_stack_are_found_by_the_prover():
    other_root = {
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::444455556666:root"},
        "Action": "kms:Decrypt",
        "Resource": "*",
    }
    r = run_rule(rule, stack_args([_key_with(other_root)]))
    assert len(r.messages) == 1
    assert "arn:aws:iam::444455556666:root may kms:Decrypt" in r.texts[0]
    pattern = {
        "Effect": "Allow",
        "Principal": {"AWS": "*"},
        "Action": "kms:Decrypt",
        "Resource": "*",
        "Condition": {"StringLike": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/app-*"}},
    }
    r = run_rule(rule, stack_args([_key_with(pattern)]))
    assert len(r.messages) == 1 and f"arn:aws:iam::{ACCOUNT}:role/app-" in r.texts[0]


def test_access_outsiders_inside_a_data_perimeter_rcp_are_still_found():
    # The organization's usual RCP stops callers from outside it, not other accounts inside it:
    # the proof must look for those, not stop at witnesses the RCP happens to refuse.
    everyone = {"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*"}
    perimeter = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"},
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "kms:*",
                "Resource": "*",
                "Condition": {"StringNotEqualsIfExists": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}},
            },
        ],
    }
    cfg = {"resourceControlPolicies": [perimeter]}
    r = run_rule(rule, stack_args([_key_with(everyone)], cfg))
    assert len(r.messages) == 1 and "principals outside the stack" in r.texts[0]
    assert "o-a1b2c3d4e5" in r.texts[0]  # the witness is a member of the organization
    # An RCP that lets nobody decrypt leaves no outsider.
    closed = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"},
            {"Effect": "Deny", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*"},
        ],
    }
    r = run_rule(rule, stack_args([_key_with(everyone)], {"resourceControlPolicies": [closed]}))
    assert r.messages == [] and r.deferred == []


def test_access_allow_with_not_principal_opens_the_key_to_the_stacks_principals():
    # Everyone but the named one may decrypt: the stack's user, with no IAM policy at all, too.
    everyone_but = {
        "Effect": "Allow",
        "NotPrincipal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/someone-else"},
        "Action": "kms:Decrypt",
        "Resource": "*",
    }
    r = run_rule(rule, stack_args([_key_with(everyone_but), stack_user()]))
    tester = f"arn:aws:iam::{ACCOUNT}:user/tester"
    assert any(f"{tester} can kms:Decrypt but is not a declared key user" in t for t in r.texts)


def test_access_outsiders_blocked_by_a_condition_pass():
    pinned = {
        "Effect": "Allow",
        "Principal": {"AWS": "*"},
        "Action": "kms:Decrypt",
        "Resource": "*",
        "Condition": {"StringEquals": {"aws:PrincipalArn": USER}},
    }
    assert run_rule(rule, stack_args([_key_with(pinned)])).messages == []


def test_access_prover_over_its_time_limit_is_an_advisory_naming_the_query():
    many = [
        {
            "Effect": "Allow",
            "Principal": "*",
            "Action": "kms:Decrypt",
            "Resource": "*",
            "Condition": {"StringLike": {"aws:PrincipalArn": f"arn:aws:iam::*:role/t{i}-*-x"}},
        }
        for i in range(40)
    ]
    from tests.policies.helpers import good_key_policy

    doc = good_key_policy()
    doc["Statement"] += many
    r = run_rule(
        rule, stack_args([stack_key(policy=json.dumps(doc))], {"proverTimeoutSeconds": 0.001})
    )
    assert any("prover query access_not_granted" in d for d in r.deferred)
    f = next(f for f in r.deferred_found if f.code == "prover-unanswered")
    assert f.detail.endswith(f"unanswered: {f.witness['reason']}")


def test_access_unknown_key_policy_and_account_defer():
    r = run_rule(rule, stack_args([stack_key(policy=UNKNOWN)]))
    assert r.messages == [] and r.deferred_codes == ["key-policy-unknown"]
    assert r.deferred == ["Key 'key': the key policy (inline policy) is unknown during preview"]
    args = stack_args([stack_key(policy=None, arn=UNKNOWN)], provider_props={"region": "us-east-1"})
    r = run_rule(rule, args)
    assert r.messages == [] and r.deferred_codes == ["key-account-unknown"]
    args = stack_args([stack_key(arn=UNKNOWN)], provider_props={"region": "us-east-1"})
    r = run_rule(rule, args)
    assert r.messages == [] and "outsiders-account-unknown" in r.deferred_codes


def test_access_a_principal_of_unknown_arn_defers():
    ghost = Res(AwsType.IAM_USER, "ghost", {"name": UNKNOWN, "arn": UNKNOWN})
    everyone = {"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*"}
    r = run_rule(rule, stack_args([_key_with(everyone), ghost]))
    [f] = [f for f in r.deferred_found if f.code == "principal-arn-unknown"]
    assert f.witness == {"kind": "user", "name": "ghost"}
    assert f.detail == "the ARN of user 'ghost' is unknown during preview"


def test_access_an_identity_policy_the_evaluator_cannot_read_defers():
    u = stack_user()
    st = {
        "Effect": "Allow",
        "Action": "kms:Decrypt",
        "Resource": "*",
        "Condition": {"StringEquals": "not-an-object"},
    }
    r = run_rule(rule, stack_args([stack_key(), u, user_policy(u, st)]))
    assert r.messages == [] and r.deferred_codes == ["evaluation-failed"]
    f = r.deferred_found[0]
    assert f.witness["principal"] == f"arn:aws:iam::{ACCOUNT}:user/tester"
    assert r.deferred == [
        f"Key 'key': cannot evaluate access of {f.witness['principal']}: {f.witness['problem']}"
    ]


SCP_DENYING_DECRYPT = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": "*", "Resource": "*"},
        {"Effect": "Deny", "Action": "kms:Decrypt", "Resource": "*"},
    ],
}
# Anyone of the key's own account, by the key policy alone: user, role and session kinds.
OWN_ACCOUNT_ANYONE = {
    "Sid": "AnyoneOfTheAccount",
    "Effect": "Allow",
    "Principal": {"AWS": "*"},
    "Action": "kms:Decrypt",
    "Resource": "*",
    "Condition": {"StringEquals": {"aws:PrincipalAccount": ACCOUNT}},
}


def test_outsiders_all_stopped_by_the_scps_are_no_finding_when_all_were_listed() -> None:
    items = [_key_with(OWN_ACCOUNT_ANYONE)]
    assert run(*items).codes == ["undeclared-outsider"]
    r = run(*items, config={"serviceControlPolicies": [SCP_DENYING_DECRYPT]})
    assert r.codes == [] and r.deferred_codes == []


def test_outsiders_stopped_by_the_scps_in_a_list_cut_short_are_deferred(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The key's account has fewer kinds of principal than the prover lists, so only a shorter
    # list than the rule's is cut while every witness in it is stopped by the SCPs.
    monkeypatch.setattr(rule, "OUTSIDER_KINDS", 2)
    r = run(_key_with(OWN_ACCOUNT_ANYONE), config={"serviceControlPolicies": [SCP_DENYING_DECRYPT]})
    assert r.codes == [] and r.deferred_codes == ["outsiders-stopped-by-scps"]
    assert r.deferred_found[0].witness == {"found": 2}


@pytest.mark.parametrize(
    "first",
    [pytest.param("not json", id="not JSON"), pytest.param(UNKNOWN, id="unknown now")],
)
def test_access_path_names_the_policy_that_allowed_not_one_before_it(first: str) -> None:
    # The evaluator numbers only the documents it is given; a policy it cannot be given
    # (unreadable, or unknown now) must not shift the name the path shows.
    u = stack_user()
    junk = Res(AwsType.IAM_USER_POLICY, "junk", {"user": "tester", "policy": first}, user=[u.urn])
    pol = _decrypt_policy_resource()
    att = Res(
        AwsType.IAM_USER_POLICY_ATTACHMENT,
        "att",
        {"user": "tester", "policyArn": pol.props["arn"]},
        user=[u.urn],
        policyArn=[pol.urn],
    )
    r = run_rule(rule, stack_args([stack_key(), u, junk, pol, att]))
    assert r.codes == ["undeclared-key-user"] and r.deferred_codes == []
    assert r.found[0].witness["path"] == (
        "root delegation (statement 'EnableRootAccountIamDelegation') + identity policy "
        "Policy dec (attached by att) (identity[0] statement 0)"
    )


def _table_on(k: Res, name: str = "orders") -> Res:
    props = {"name": name, "serverSideEncryption": {"enabled": True, "kmsKeyArn": KEY_ARN}}
    return Res(AwsType.DYNAMODB_TABLE, name, props, serverSideEncryption=[k.urn])


@pytest.mark.parametrize(
    "condition",
    [
        pytest.param({"kms:EncryptionContext:aws:dynamodb:tableName": "orders"}, id="table"),
        pytest.param({"kms:EncryptionContext:aws:dynamodb:subscriberId": ACCOUNT}, id="account"),
        pytest.param({"kms:CallerAccount": ACCOUNT}, id="caller-account"),
    ],
)
def test_access_through_dynamodb_carries_the_context_dynamodb_presents(
    condition: dict[str, str],
) -> None:
    # Root delegation only for decrypts DynamoDB makes with the table's encryption context or
    # for the caller's account: a user with kms:Decrypt reads the table, so is a key user.
    from tests.policies.helpers import good_key_policy

    doc = good_key_policy(enable_root_delegation=False)
    doc["Statement"].append(
        {
            "Sid": "ThroughTheTable",
            "Effect": "Allow",
            "Principal": {"AWS": ROOT},
            "Action": "kms:Decrypt",
            "Resource": "*",
            "Condition": {"StringEquals": condition},
        }
    )
    k = stack_key(policy=json.dumps(doc))
    u = stack_user()
    r = run(k, _table_on(k), u, user_policy(u, DECRYPT_ALL))
    assert r.codes == ["undeclared-key-user"]
    assert r.found[0].witness["principal"] == f"arn:aws:iam::{ACCOUNT}:user/tester"
    # Another table's name in the condition opens nothing through this table.
    if "tableName" in next(iter(condition)):
        other = dict(condition, **{next(iter(condition)): "other"})
        doc["Statement"][-1]["Condition"] = {"StringEquals": other}
        k2 = stack_key(policy=json.dumps(doc))
        assert run(k2, _table_on(k2), u, user_policy(u, DECRYPT_ALL)).codes == []
