"""The stack's users and roles as Subjects: every policy that reaches them, in evaluation order."""

from __future__ import annotations

import json
from typing import Any

from kmsguard.access.subject import PolicySource
from kmsguard.contract import DYNAMODB_FULL_ACCESS_POLICY_ARN, AwsType
from policies.rules import stack_key_access_matches_declared as rule
from policies.stack.graph import StackView
from policies.stack.principals import StackSubject, stack_subjects
from tests.policies.helpers import ACCOUNT, Res, key_props, run_rule, stack_args

UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
DEV = f"arn:aws:iam::{ACCOUNT}:user/dev"
APP = f"arn:aws:iam::{ACCOUNT}:role/app"


def doc(action: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}],
    }


def policy(name: str, action: str) -> Res:
    arn = f"arn:aws:iam::{ACCOUNT}:policy/{name}"
    return Res(AwsType.IAM_POLICY, name, {"arn": arn, "policy": json.dumps(doc(action))})


def subjects(*items: Res, provider_props: dict[str, Any] | None = None) -> list[StackSubject]:
    kw = {} if provider_props is None else {"provider_props": provider_props}
    return stack_subjects(StackView(stack_args(list(items), **kw).resources))


def only(*items: Res, **kw: Any) -> StackSubject:
    [found] = subjects(*items, **kw)
    return found


def test_a_user_gets_its_own_then_its_groups_policies_and_its_boundary() -> None:
    dev = Res(AwsType.IAM_USER, "dev", {"name": "dev", "arn": DEV, "permissionsBoundary": ""})
    group = Res(AwsType.IAM_GROUP, "devs", {"name": "devs"})
    shared, cap = policy("shared", "s3:GetObject"), policy("cap", "kms:*")
    dev.props["permissionsBoundary"] = cap.props["arn"]
    items = [
        dev,
        group,
        shared,
        cap,
        # Listed out of evaluation order: the collector orders them.
        Res(
            AwsType.IAM_GROUP_POLICY_ATTACHMENT,
            "devs-shared",
            {"group": "devs", "policyArn": shared.props["arn"]},
            group=[group.urn],
        ),
        Res(
            AwsType.IAM_USER_POLICY_ATTACHMENT,
            "dev-dynamo",
            {"user": "dev", "policyArn": DYNAMODB_FULL_ACCESS_POLICY_ARN},
            user=[dev.urn],
        ),
        Res(
            AwsType.IAM_GROUP_POLICY,
            "devs-inline",
            {"group": "devs", "policy": json.dumps(doc("sqs:*"))},
            group=[group.urn],
        ),
        Res(
            AwsType.IAM_USER_POLICY,
            "dev-inline",
            {"user": "dev", "policy": json.dumps(doc("kms:Decrypt"))},
            user=[dev.urn],
        ),
        Res(
            AwsType.IAM_USER_GROUP_MEMBERSHIP,
            "dev-in-devs",
            {"user": "dev", "groups": ["devs"]},
            user=[dev.urn],
        ),
    ]
    found = only(*items)
    assert found.node.urn == dev.urn
    s = found.subject
    assert (s.arn, s.kind, s.account, s.groups) == (DEV, "user", ACCOUNT, ("devs",))
    assert [p.origin for p in s.identity_policies] == [
        "UserPolicy dev-inline",
        "AWS managed AmazonDynamoDBFullAccess",
        "GroupPolicy devs-inline (via group devs)",
        "Policy shared (via group devs)",
    ]
    assert s.identity_policies[0].document == doc("kms:Decrypt")
    assert s.boundary == PolicySource("Policy cap", doc("kms:*"))
    assert s.fully_known and s.trust is None


def test_a_role_gets_its_inline_and_managed_properties_and_its_trust_policy() -> None:
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": DEV}, "Action": "sts:AssumeRole"}],
    }
    app = Res(
        AwsType.IAM_ROLE,
        "app",
        {
            "name": "app",
            "arn": APP,
            "assumeRolePolicy": json.dumps(trust),
            "inlinePolicies": [{"name": "i", "policy": json.dumps(doc("kms:Decrypt"))}],
            "managedPolicyArns": [DYNAMODB_FULL_ACCESS_POLICY_ARN],
        },
    )
    own = Res(
        AwsType.IAM_ROLE_POLICY,
        "app-own",
        {"role": "app", "policy": json.dumps(doc("sqs:*"))},
        role=[app.urn],
    )
    s = only(app, own).subject
    assert (s.kind, s.arn) == ("role", APP)
    assert [p.origin for p in s.identity_policies] == [
        "RolePolicy app-own",
        "inline policy #0 of role app",
        "AWS managed AmazonDynamoDBFullAccess",
    ]
    assert s.trust == PolicySource("trust policy of role app", trust)


def test_a_trust_policy_unknown_now_is_not_known_and_one_not_json_is_kept_as_written() -> None:
    unknown = only(Res(AwsType.IAM_ROLE, "r", {"arn": APP, "assumeRolePolicy": UNKNOWN}))
    assert unknown.subject.trust is not None and not unknown.subject.trust.known
    assert unknown.subject.trust.problem == "trust policy of role r unknown"
    broken = only(Res(AwsType.IAM_ROLE, "r", {"arn": APP, "assumeRolePolicy": "{nope"}))
    trust = broken.subject.trust
    assert trust is not None and trust.known and trust.document == "{nope"
    assert trust.problem.startswith("policy is not valid JSON")


def test_an_unknown_document_is_not_known_and_the_rule_defers_on_it() -> None:
    dev = Res(AwsType.IAM_USER, "dev", {"name": "dev", "arn": DEV})
    later = Res(
        AwsType.IAM_USER_POLICY, "later", {"user": "dev", "policy": UNKNOWN}, user=[dev.urn]
    )
    s = only(dev, later).subject
    assert s.identity_policies == (
        PolicySource("UserPolicy later", None, "UserPolicy later unknown"),
    )
    assert not s.fully_known
    key = Res(AwsType.KMS_KEY, "key", key_props())
    r = run_rule(rule, stack_args([key, dev, later]))
    assert r.messages == [] and r.deferred_codes == ["principal-policies-unknown"]
    assert "(UserPolicy later unknown)" in r.deferred[0]


def test_what_cannot_be_known_says_why() -> None:
    outside = f"arn:aws:iam::{ACCOUNT}:policy/elsewhere"
    role = Res(
        AwsType.IAM_ROLE,
        "r",
        {
            "arn": APP,
            "managedPolicyArns": UNKNOWN,
            "permissionsBoundary": "arn:aws:iam::aws:policy/NoSuchManagedPolicy",
        },
    )
    att = Res(
        AwsType.IAM_ROLE_POLICY_ATTACHMENT,
        "att",
        {"role": "r", "policyArn": outside},
        role=[role.urn],
    )
    pending = Res(
        AwsType.IAM_ROLE_POLICY_ATTACHMENT,
        "pending",
        {"role": "r", "policyArn": UNKNOWN},
        role=[role.urn],
    )
    s = only(role, att, pending).subject
    assert [(p.origin, p.known, p.problem) for p in s.identity_policies] == [
        (f"policy {outside}", False, f"customer managed policy {outside} is outside the stack"),
        ("attachment pending", False, "policy ARN unknown"),
        ("managedPolicyArns of role r", False, "managedPolicyArns unknown"),
    ]
    assert s.boundary is not None and not s.boundary.known
    assert s.boundary.problem.endswith("NoSuchManagedPolicy not in the catalog")


def test_a_policy_aws_would_refuse_is_known_and_grants_nothing() -> None:
    dev = Res(AwsType.IAM_USER, "dev", {"name": "dev", "arn": DEV})
    items = [
        Res(AwsType.IAM_USER_POLICY, "list", {"user": "dev", "policy": "[1, 2]"}, user=[dev.urn]),
        Res(AwsType.IAM_USER_POLICY, "none", {"user": "dev"}, user=[dev.urn]),
        Res(AwsType.IAM_USER_POLICY_ATTACHMENT, "no-arn", {"user": "dev"}, user=[dev.urn]),
    ]
    s = only(dev, *items).subject
    assert [(p.document, p.problem) for p in s.identity_policies] == [
        ("[1, 2]", "policy must be a JSON object, got list"),
        ("", "no policy document"),
        ("", "no policy ARN"),
    ]
    assert s.fully_known


def test_an_arn_unknown_now_is_derived_from_the_name_in_the_declared_account_only() -> None:
    ghost = Res(AwsType.IAM_USER, "ghost", {"name": "svc", "path": "/ops/", "arn": UNKNOWN})
    pinned = {"region": "us-east-1", "allowedAccountIds": [ACCOUNT]}
    derived = only(ghost, provider_props=pinned).subject
    assert derived.arn == f"arn:aws:iam::{ACCOUNT}:user/ops/svc"
    assert only(ghost, provider_props={"region": "us-east-1"}).subject.arn is None


def test_a_policy_for_a_namesake_of_another_type_or_name_does_not_reach_the_user() -> None:
    # A role and a user may share a name; a user named like a prefix of another is not it.
    dev = Res(AwsType.IAM_USER, "dev", {"name": "dev", "arn": DEV})
    namesake = Res(AwsType.IAM_ROLE, "dev-role", {"name": "dev", "arn": APP})
    for_role = Res(AwsType.IAM_ROLE_POLICY, "rp", {"role": "dev", "policy": json.dumps(doc("*"))})
    for_other = Res(
        AwsType.IAM_USER_POLICY, "up", {"user": "dev\u200b", "policy": json.dumps(doc("*"))}
    )
    user, role = subjects(dev, namesake, for_role, for_other)
    assert user.subject.identity_policies == ()
    assert [p.origin for p in role.subject.identity_policies] == ["RolePolicy rp"]


def test_the_subjects_are_collected_once_per_view() -> None:
    view = StackView(stack_args([Res(AwsType.IAM_USER, "dev", {"arn": DEV})]).resources)
    assert stack_subjects(view) is stack_subjects(view)
