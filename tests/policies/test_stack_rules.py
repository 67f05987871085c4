"""Stack rules: table->key links (by value and by property dependency), key usage, real access."""

from __future__ import annotations

import json

from kmsguard.contract import DYNAMODB_FULL_ACCESS_POLICY_ARN, AwsType
from policies.rules import dynamodb_table_customer_managed_key as cmk
from policies.rules import kms_key_symmetric_for_tables as symmetric
from policies.rules import stack_key_access_matches_declared as access
from tests.policies.helpers import ACCOUNT, KEY_ARN, USER, Res, key_props, run_rule, stack_args

UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


def key(**over):
    return Res(AwsType.KMS_KEY, "key", {**key_props(**over), "arn": over.get("arn", KEY_ARN)})


def table(sse, deps=None):
    return Res(
        AwsType.DYNAMODB_TABLE,
        "table",
        {"serverSideEncryption": sse},
        **({"serverSideEncryption": deps} if deps else {}),
    )


def test_cmk_baseline_by_value_and_by_dependency():
    k = key()
    assert (
        run_rule(cmk, stack_args([k, table({"enabled": True, "kmsKeyArn": KEY_ARN})])).messages
        == []
    )
    k2 = key(arn=UNKNOWN)
    r = run_rule(cmk, stack_args([k2, table({"enabled": True, "kmsKeyArn": UNKNOWN}, [k2.urn])]))
    assert r.messages == [] and r.deferred == []


def test_cmk_alias_in_stack_counts():
    k = key()
    alias = Res(
        AwsType.KMS_ALIAS,
        "alias",
        {"name": "alias/orders", "targetKeyId": "k-1"},
        targetKeyId=[k.urn],
    )
    assert (
        run_rule(
            cmk, stack_args([k, alias, table({"enabled": True, "kmsKeyArn": "alias/orders"})])
        ).messages
        == []
    )


def test_cmk_violations():
    cases = {
        "not enabled": {"enabled": False},
        "no kmsKeyArn": {"enabled": True},
        "is an AWS managed key": {"enabled": True, "kmsKeyArn": "alias/aws/dynamodb"},
        "is an AWS managed key ": {
            "enabled": True,
            "kmsKeyArn": f"arn:aws:kms:us-east-1:{ACCOUNT}:alias/aws/dynamodb",
        },
        "belongs to account 999999999999": {
            "enabled": True,
            "kmsKeyArn": "arn:aws:kms:us-east-1:999999999999:key/abc",
        },
    }
    for expected, sse in cases.items():
        r = run_rule(cmk, stack_args([key(), table(sse)]))
        assert len(r.messages) == 1 and expected.strip() in r.messages[0][0], (expected, r.texts)
    r = run_rule(cmk, stack_args([table(None)]))
    assert "not enabled" in r.texts[0]


def test_cmk_cross_account_allow_list():
    other = "arn:aws:kms:us-east-1:999999999999:key/abc"
    r = run_rule(
        cmk,
        stack_args(
            [key(), table({"enabled": True, "kmsKeyArn": other})],
            {"allowedCrossAccountKeyArns": [other]},
        ),
    )
    assert r.messages == []


def test_cmk_unknown_without_dependency_is_deferred():
    r = run_rule(cmk, stack_args([table({"enabled": True, "kmsKeyArn": UNKNOWN})]))
    assert r.messages == [] and "depends on no aws:kms/key:Key" in r.deferred[0]


def test_symmetric_rule():
    for over, expected in [
        ({"customerMasterKeySpec": "RSA_2048"}, "customerMasterKeySpec is 'RSA_2048'"),
        ({"keyUsage": "SIGN_VERIFY"}, "keyUsage is 'SIGN_VERIFY'"),
        ({"isEnabled": False}, "the key is disabled"),
    ]:
        k = key(**over)
        r = run_rule(symmetric, stack_args([k, table({"enabled": True, "kmsKeyArn": KEY_ARN})]))
        assert len(r.messages) == 1 and expected in r.texts[0]
    assert (
        run_rule(
            symmetric, stack_args([key(), table({"enabled": True, "kmsKeyArn": KEY_ARN})])
        ).messages
        == []
    )


def user(name="tester", arn=None):
    return Res(AwsType.IAM_USER, name, {"name": name, **({"arn": arn} if arn else {})})


def user_policy(u, statement):
    doc = {"Version": "2012-10-17", "Statement": [statement]}
    return Res(
        AwsType.IAM_USER_POLICY,
        f"{u.name}-policy",
        {"user": u.name, "policy": json.dumps(doc)},
        user=[u.urn],
    )


def test_access_baseline_managed_policy_gives_no_decrypt():
    u = user()
    att = Res(
        AwsType.IAM_USER_POLICY_ATTACHMENT,
        "att",
        {"user": "tester", "policyArn": DYNAMODB_FULL_ACCESS_POLICY_ARN},
        user=[u.urn],
    )
    r = run_rule(access, stack_args([key(), u, att]))
    assert r.messages == [] and r.deferred == []


def test_access_declared_user_passes():
    u = user("app", USER)
    st = {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"}
    assert run_rule(access, stack_args([key(), u, user_policy(u, st)])).messages == []


def test_access_through_root_delegation_is_reported_with_path():
    u = user()  # ARN derived from name + account at preview
    st = {"Sid": "Wide", "Effect": "Allow", "Action": "kms:Decr*", "Resource": "*"}
    r = run_rule(access, stack_args([key(arn=UNKNOWN), u, user_policy(u, st)]))
    assert len(r.messages) == 1
    text = r.texts[0]
    assert (
        f"arn:aws:iam::{ACCOUNT}:user/tester can kms:Decrypt but is not a declared key user" in text
    )
    assert "root delegation" in text and "identity policy UserPolicy tester-policy" in text


def test_access_without_root_delegation_iam_alone_grants_nothing():
    u = user()
    st = {"Effect": "Allow", "Action": "kms:*", "Resource": "*"}
    from tests.policies.helpers import good_key_policy

    k = key(policy=json.dumps(good_key_policy(enable_root_delegation=False)))
    assert run_rule(access, stack_args([k, u, user_policy(u, st)])).messages == []


def test_access_extra_declared_users_config():
    u = user()
    st = {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"}
    cfg = {"extraDeclaredKeyUsers": [f"arn:aws:iam::{ACCOUNT}:user/tester"]}
    assert run_rule(access, stack_args([key(), u, user_policy(u, st)], cfg)).messages == []


def test_access_unknown_policy_is_deferred():
    u = user()
    p = Res(AwsType.IAM_USER_POLICY, "p", {"user": "tester", "policy": UNKNOWN}, user=[u.urn])
    r = run_rule(access, stack_args([key(), u, p]))
    assert r.messages == [] and "unknown" in r.deferred[0]


# --- adversarial cases (one property changed from the compliant baseline) --------------------


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
    r = run_rule(access, stack_args([key(), role, pol, att]))
    assert len(r.messages) == 1 and f"{ADMIN} can kms:Decrypt" in r.texts[0]
    assert "identity policy Policy dec (attached by att)" in r.texts[0]


def test_access_through_group_membership():
    u = user()
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
    r = run_rule(access, stack_args([key(), u, g, gp, gm]))
    assert len(r.messages) == 1 and "GroupPolicy gp (via group devs)" in r.texts[0]
    assert run_rule(access, stack_args([key(), u, g, gp])).messages == []


def test_access_unknown_managed_policy_arns_are_deferred():
    role = Res(AwsType.IAM_ROLE, "r3", {"name": "r3", "managedPolicyArns": UNKNOWN})
    r = run_rule(access, stack_args([key(), role]))
    assert r.messages == [] and "managedPolicyArns unknown" in r.deferred[0]


def test_access_key_with_inline_policy_and_key_policy_resource_checks_both():
    from tests.policies.helpers import good_key_policy

    open_doc = good_key_policy()
    open_doc["Statement"].append(
        {"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*"}
    )
    k = key(policy=json.dumps(open_doc))
    kp = Res(
        AwsType.KMS_KEY_POLICY,
        "kp",
        {"keyId": "k", "policy": json.dumps(good_key_policy())},
        keyId=[k.urn],
    )
    r = run_rule(access, stack_args([k, kp, user()]))
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
    u = user()
    st = {"Effect": "Allow", "Action": "kms:*", "Resource": "*"}
    # Without root delegation in the KeyPolicy, the IAM policy grants nothing.
    r = run_rule(access, stack_args([k, kp, u, user_policy(u, st)]))
    assert r.messages == [] and r.deferred == []
    # The key alone (AWS default policy: root delegation) would let it decrypt.
    assert len(run_rule(access, stack_args([k, u, user_policy(u, st)])).messages) == 1


def test_cmk_replica_without_its_own_key():
    t = Res(
        AwsType.DYNAMODB_TABLE,
        "table",
        {
            "serverSideEncryption": {"enabled": True, "kmsKeyArn": KEY_ARN},
            "replicas": [{"regionName": "us-west-2"}],
        },
    )
    r = run_rule(cmk, stack_args([key(), t]))
    assert len(r.messages) == 1 and "replica in us-west-2 has no kmsKeyArn" in r.texts[0]
    other = "arn:aws:kms:us-west-2:123456789012:key/2"
    t.props["replicas"][0]["kmsKeyArn"] = other
    assert run_rule(cmk, stack_args([key(), t])).messages == []


def test_cmk_enabled_without_arn_and_unknown_without_dependency():
    assert (
        "uses the AWS managed key"
        in run_rule(cmk, stack_args([key(), table({"enabled": True, "kmsKeyArn": ""})])).texts[0]
    )


# --- grants, permission boundaries, organization policies --------------------------------------

DECRYPT_ALL = {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"}


def grant(grantee, ops=("Decrypt",), constraints=None, name="g1", key_dep=True):
    props = {"keyId": KEY_ARN, "granteePrincipal": grantee, "operations": list(ops)}
    if constraints is not None:
        props["constraints"] = constraints
    k = key()
    return Res(AwsType.KMS_GRANT, name, props, **({"keyId": [k.urn]} if key_dep else {}))


def test_access_grant_to_an_undeclared_principal_is_a_violation_with_its_constraints():
    other = f"arn:aws:iam::{ACCOUNT}:user/intruder"
    g = grant(other, constraints=[{"encryptionContextSubset": {"Dept": "IT"}}])
    r = run_rule(access, stack_args([key(), g]))
    assert len(r.messages) == 1, r.texts
    assert (
        f"grant 'g1' lets {other} kms:Decrypt but it is not a declared key user "
        "(constraints: EncryptionContextSubset {'Dept': 'IT'})"
    ) in r.texts[0]
    assert r.messages[0][1] == g.urn


def test_access_grant_linked_by_key_identifier_counts():
    g = grant(f"arn:aws:iam::{ACCOUNT}:user/intruder", key_dep=False)
    assert len(run_rule(access, stack_args([key(), g])).messages) == 1


def test_access_grant_to_a_declared_key_user_passes():
    assert run_rule(access, stack_args([key(), grant(USER)])).messages == []


def test_access_grant_for_an_aws_service_passes():
    g = grant("dynamodb.us-east-1.amazonaws.com", ops=("Decrypt", "Encrypt", "RetireGrant"))
    assert run_rule(access, stack_args([key(), g])).messages == []


def test_access_grant_without_decrypt_passes():
    g = grant(f"arn:aws:iam::{ACCOUNT}:user/intruder", ops=("Encrypt", "DescribeKey"))
    assert run_rule(access, stack_args([key(), g])).messages == []


def test_access_grant_with_unknown_grantee_is_deferred():
    r = run_rule(access, stack_args([key(), grant(UNKNOWN)]))
    assert r.messages == [] and "grantee principal is unknown" in r.deferred[0]


def test_access_grant_with_a_bad_operation_names_it():
    r = run_rule(access, stack_args([key(), grant(f"arn:aws:iam::{ACCOUNT}:user/x", ("Read",))]))
    assert len(r.messages) == 1
    assert "grant 'g1'.Operations[0]: 'Read' is not a grant operation" in r.texts[0]


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


def test_access_grant_to_a_role_is_capped_by_the_role_boundary():
    b = _boundary_policy("dynamodb:*")
    role_arn = f"arn:aws:iam::{ACCOUNT}:role/worker"
    role = Res(
        AwsType.IAM_ROLE,
        "worker",
        {"name": "worker", "arn": role_arn, "permissionsBoundary": b.props["arn"]},
        permissionsBoundary=[b.urn],
    )
    assert run_rule(access, stack_args([key(), b, role, grant(role_arn)])).messages == []
    unbounded = Res(AwsType.IAM_ROLE, "worker", {"name": "worker", "arn": role_arn})
    assert len(run_rule(access, stack_args([key(), unbounded, grant(role_arn)])).messages) == 1


def test_access_permissions_boundary_removes_the_identity_grant():
    u = user()
    st = {"Sid": "Wide", "Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"}
    b = _boundary_policy("dynamodb:*")
    bounded = Res(
        AwsType.IAM_USER,
        "tester",
        {"name": "tester", "permissionsBoundary": b.props["arn"]},
    )
    bounded.urn = u.urn
    assert run_rule(access, stack_args([key(), b, bounded, user_policy(u, st)])).messages == []
    assert len(run_rule(access, stack_args([key(), u, user_policy(u, st)])).messages) == 1


def test_access_boundary_allowing_decrypt_keeps_the_violation_and_shows_it():
    u = user()
    b = _boundary_policy("kms:*")
    bounded = Res(
        AwsType.IAM_USER, "tester", {"name": "tester", "permissionsBoundary": b.props["arn"]}
    )
    bounded.urn = u.urn
    r = run_rule(access, stack_args([key(), b, bounded, user_policy(u, DECRYPT_ALL)]))
    assert len(r.messages) == 1 and "within boundary Policy boundary" in r.texts[0]


def test_access_scp_denying_decrypt_removes_the_violation():
    u = user()
    scp = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Deny", "Action": "kms:Decrypt", "Resource": "*"}],
    }
    full = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
    }
    cfg = {"serviceControlPolicies": [full, scp]}
    assert run_rule(access, stack_args([key(), u, user_policy(u, DECRYPT_ALL)], cfg)).messages == []


def test_access_rcp_without_kms_allow_removes_the_violation():
    u = user()
    rcp = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "*"}],
    }
    cfg = {"resourceControlPolicies": [rcp]}
    assert run_rule(access, stack_args([key(), u, user_policy(u, DECRYPT_ALL)], cfg)).messages == []


def test_access_malformed_scp_in_config_is_named():
    cfg = {"serviceControlPolicies": [{"Statement": [{"Effect": "Allow", "Action": "*"}]}]}
    r = run_rule(access, stack_args([key()], cfg))
    assert len(r.messages) == 1
    assert r.texts[0].startswith(
        "policy config serviceControlPolicies[0]: Statement[0]: needs Resource or NotResource"
    )


def _key_with(statement):
    from tests.policies.helpers import good_key_policy

    doc = good_key_policy()
    doc["Statement"].append(statement)
    return key(policy=json.dumps(doc))


def test_access_principals_outside_the_stack_are_found_by_the_prover():
    other_root = {
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::444455556666:root"},
        "Action": "kms:Decrypt",
        "Resource": "*",
    }
    r = run_rule(access, stack_args([_key_with(other_root)]))
    assert len(r.messages) == 1
    assert "arn:aws:iam::444455556666:root may kms:Decrypt" in r.texts[0]
    pattern = {
        "Effect": "Allow",
        "Principal": {"AWS": "*"},
        "Action": "kms:Decrypt",
        "Resource": "*",
        "Condition": {"StringLike": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/app-*"}},
    }
    r = run_rule(access, stack_args([_key_with(pattern)]))
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
    r = run_rule(access, stack_args([_key_with(everyone)], cfg))
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
    r = run_rule(access, stack_args([_key_with(everyone)], {"resourceControlPolicies": [closed]}))
    assert r.messages == [] and r.deferred == []


def test_access_allow_with_not_principal_opens_the_key_to_the_stacks_principals():
    # Everyone but the named one may decrypt: the stack's user, with no IAM policy at all, too.
    everyone_but = {
        "Effect": "Allow",
        "NotPrincipal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/someone-else"},
        "Action": "kms:Decrypt",
        "Resource": "*",
    }
    r = run_rule(access, stack_args([_key_with(everyone_but), user()]))
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
    assert run_rule(access, stack_args([_key_with(pinned)])).messages == []


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
    r = run_rule(access, stack_args([key(policy=json.dumps(doc))], {"proverTimeoutSeconds": 0.001}))
    assert any("prover query access_not_granted" in d for d in r.deferred)
