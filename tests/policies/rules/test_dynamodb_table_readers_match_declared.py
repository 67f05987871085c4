"""dynamodb-table-readers-match-declared: one property changed from a compliant stack per case."""

from __future__ import annotations

import json
from typing import Any

from kmsguard.contract import AwsType
from policies.rules import dynamodb_table_readers_match_declared as rule
from tests.policies.helpers import ACCOUNT, KEY_ARN, USER, Res, key_props, run_rule, stack_args

UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
OTHER = "111122223333"
ORG = "o-a1b2c3d4e5"
TABLE_ARN = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/orders"
STREAM_ARN = f"{TABLE_ARN}/stream/2026-01-01T00:00:00.000"
RESOURCE_POLICY = "aws:dynamodb/resourcePolicy:ResourcePolicy"
TABLE_EXPORT = "aws:dynamodb/tableExport:TableExport"
VIA = {"StringEquals": {"kms:ViaService": "dynamodb.us-east-1.amazonaws.com"}}


def doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(principal: Any, action: Any, resource: Any = TABLE_ARN, **extra: Any) -> dict[str, Any]:
    return {
        "Effect": "Allow",
        "Principal": principal,
        "Action": action,
        "Resource": resource,
        **extra,
    }


def key(**over: Any) -> Res:
    return Res(AwsType.KMS_KEY, "key", {**key_props(**over), "arn": KEY_ARN})


def table(**over: Any) -> Res:
    props: dict[str, Any] = {
        "name": "orders",
        "arn": TABLE_ARN,
        "serverSideEncryption": {"enabled": True, "kmsKeyArn": KEY_ARN},
        "streamEnabled": False,
    }
    props.update(over)
    return Res(AwsType.DYNAMODB_TABLE, "orders", {k: v for k, v in props.items() if v is not None})


def user(arn: str, policy: str) -> list[Res]:
    name = arn.rsplit("/", 1)[-1]
    u = Res(AwsType.IAM_USER, name, {"name": name, "arn": arn})
    p = Res(AwsType.IAM_USER_POLICY, f"{name}-p", {"user": name, "policy": policy}, user=[u.urn])
    return [u, p]


READS = doc(
    {"Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:Query"], "Resource": TABLE_ARN}
)


def baseline(**table_over: Any) -> list[Res]:
    """The program's shape: a key whose users are declared, a table on it, the test user."""
    return [key(), table(**table_over), *user(USER, READS)]


def table_policy(policy: str, resource_arn: str = TABLE_ARN, **deps: list[str]) -> Res:
    return Res(RESOURCE_POLICY, "tp", {"resourceArn": resource_arn, "policy": policy}, **deps)


def run(*items: Res, config: dict[str, Any] | None = None) -> Any:
    return run_rule(rule, stack_args(list(items), config))


def test_the_compliant_stack_passes() -> None:
    r = run(*baseline())
    assert r.texts == [] and r.deferred == []


def test_a_public_table_policy_fails_with_the_witness_whatever_the_key_says() -> None:
    r = run(*baseline(), table_policy(doc(allow("*", "dynamodb:GetItem"))))
    (text,) = r.texts
    [f] = r.found
    assert (f.rule, f.code, f.resource) == (
        "dynamodb-table-readers-match-declared",
        "outside-access",
        "Table 'orders'",
    )
    assert f.witness["complete"] in (True, False)
    assert f.witness["witnesses"] and f"::{ACCOUNT}:" not in f.witness["witnesses"][0]["principal"]
    assert text == f"Table 'orders': {f.detail}"
    assert f.detail.startswith("open to a principal outside the account and the trusted ones: ")
    assert "GetItem" in text and f"::{ACCOUNT}:" not in text.split(": ", 2)[2].split(" ")[0]


def test_a_public_table_policy_for_writes_only_fails_too() -> None:
    r = run(*baseline(), table_policy(doc(allow("*", "dynamodb:PutItem"))))
    assert any("PutItem" in t for t in r.texts)


def test_sharing_with_another_account_fails_unless_that_account_is_trusted() -> None:
    shared = table_policy(doc(allow({"AWS": f"arn:aws:iam::{OTHER}:root"}, "dynamodb:GetItem")))
    assert run(*baseline(), shared).texts
    # Trusted, and the key does not let it decrypt anyway: nothing to report.
    r = run(*baseline(), shared, config={"trustedAccounts": [OTHER]})
    assert r.texts == [] and r.deferred == []


def test_an_organization_condition_passes_only_for_a_trusted_organization() -> None:
    org = {"StringEquals": {"aws:PrincipalOrgID": ORG}}
    policy = table_policy(doc(allow("*", "dynamodb:GetItem", Condition=org)))
    r = run(*baseline(), policy)
    assert r.texts and f"aws:PrincipalOrgID={ORG}" in r.texts[0]
    assert run(*baseline(), policy, config={"trustedOrganizations": [ORG]}).texts == []


def test_a_public_stream_policy_fails() -> None:
    stream = table_policy(doc(allow("*", "dynamodb:GetRecords", STREAM_ARN)), STREAM_ARN)
    streamed = table(streamEnabled=True, streamArn=STREAM_ARN, streamViewType="KEYS_ONLY")
    r = run(key(), streamed, *user(USER, READS), stream)
    # Keys only is still item data: the key attributes of every change.
    assert any("GetRecords" in t and STREAM_ARN in t and "carry KEYS_ONLY" in t for t in r.texts)


def test_an_undeclared_stack_user_that_reads_and_decrypts_fails() -> None:
    dev = f"arn:aws:iam::{ACCOUNT}:user/dev"
    reads_and_decrypts = doc(
        {"Effect": "Allow", "Action": ["dynamodb:GetItem", "kms:Decrypt"], "Resource": "*"}
    )
    r = run(*baseline(), *user(dev, reads_and_decrypts))
    (text,) = r.texts
    assert r.codes == ["undeclared-reader"]
    assert [w["principal"] for w in r.found[0].witness["witnesses"]] == [dev]
    assert "not declared readers" in text and dev in text and "kms:Decrypt" in text


def test_an_index_read_through_the_table_policy_fails() -> None:
    analyst = f"arn:aws:iam::{ACCOUNT}:user/analyst"
    open_key = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                allow({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "kms:*", "*"),
                allow("*", "kms:Decrypt", "*", Condition=VIA),
            ],
        }
    )
    gsi = [{"name": "byDate", "hashKey": "day"}]
    index_reads = table_policy(
        doc(allow({"AWS": analyst}, "dynamodb:Query", f"{TABLE_ARN}/index/*"))
    )
    r = run(
        key(policy=open_key), table(globalSecondaryIndexes=gsi), *user(USER, READS), index_reads
    )
    (text,) = r.texts
    assert analyst in text and f"{TABLE_ARN}/index/byDate" in text


def test_an_unknown_table_policy_defers_never_passes() -> None:
    r = run(*baseline(), table_policy(UNKNOWN))
    assert r.texts == [] and r.deferred_codes == ["resource-policy-unknown"]
    assert r.deferred == [
        "Table 'orders': ResourcePolicy 'tp': the policy is unknown during preview"
    ]


def test_a_policy_whose_target_is_unknown_is_judged_on_table_and_stream() -> None:
    t = table(streamEnabled=True)
    public = table_policy(doc(allow("*", "dynamodb:GetRecords", "*")), UNKNOWN, resourceArn=[t.urn])
    r = run(key(), t, *user(USER, READS), public)
    assert any("GetRecords" in m for m in r.texts)


def test_an_unreadable_table_policy_is_a_violation() -> None:
    tp = table_policy("{not json")
    r = run(*baseline(), tp)
    [f] = r.found
    assert (f.code, f.resource, f.urn) == (
        "resource-policy-unreadable",
        "Table 'orders': ResourcePolicy 'tp'",
        tp.urn,
    )
    assert r.texts == [
        f"Table 'orders': ResourcePolicy 'tp': cannot tell who it lets in: {f.witness['problem']}"
    ]


def test_an_export_to_another_accounts_bucket_fails_and_an_unknown_owner_defers() -> None:
    t = table()
    export = Res(
        TABLE_EXPORT, "exp", {"tableArn": TABLE_ARN, "s3Bucket": "b", "s3BucketOwner": OTHER}
    )
    r = run(key(), t, *user(USER, READS), export)
    [f] = r.found
    assert (f.code, f.witness, f.urn) == (
        "export-to-untrusted-account",
        {"export": "exp", "bucketOwner": OTHER},
        export.urn,
    )
    assert r.texts == [
        f"Table 'orders': export 'exp' writes its items to a bucket of account {OTHER}, which is "
        "not a trusted account"
    ]
    unknown = Res(
        TABLE_EXPORT, "exp", {"tableArn": UNKNOWN, "s3BucketOwner": UNKNOWN}, tableArn=[t.urn]
    )
    r = run(key(), t, *user(USER, READS), unknown)
    assert r.texts == [] and r.deferred_codes == ["export-owner-unknown"]
    assert r.deferred == ["Table 'orders': the bucket owner of export 'exp' is unknown"]


def test_an_aws_managed_key_leaves_dynamodb_to_decide_alone() -> None:
    dev = f"arn:aws:iam::{ACCOUNT}:user/dev"
    items = [table(serverSideEncryption={"enabled": True}), *user(dev, READS)]
    r = run(*items)
    assert any(dev in t and "not declared readers" in t for t in r.texts)
    assert run(*items, config={"extraDeclaredReaders": [dev]}).texts == []


def test_an_unknown_table_key_defers() -> None:
    r = run(
        key(),
        table(serverSideEncryption={"enabled": True, "kmsKeyArn": UNKNOWN}),
        *user(USER, READS),
    )
    assert r.texts == [] and r.deferred_codes == ["key-unknown"]
    assert r.deferred == ["Table 'orders': its key is unknown during preview"]


def test_without_the_account_the_rule_defers() -> None:
    t = table(arn=UNKNOWN)
    args = stack_args(
        [key(arn=UNKNOWN), t, *user(USER, READS)], provider_props={"region": "us-east-1"}
    )
    r = run_rule(rule, args)
    assert r.texts == [] and "table-account-unknown" in r.deferred_codes
    assert any("depends on its account" in d for d in r.deferred)


def test_a_policy_on_another_table_is_not_this_tables() -> None:
    public = doc(allow("*", "dynamodb:GetItem", "*"))
    other_table = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/orders-archive"
    same_name_elsewhere = f"arn:aws:dynamodb:us-east-1:{OTHER}:table/orders"
    for arn in (other_table, same_name_elsewhere, "orders", "arn:aws:s3:::orders"):
        r = run(*baseline(), table_policy(public, arn))
        assert r.texts == [] and r.deferred == [], arn


def test_a_policy_of_unknown_target_is_the_tables_when_it_has_no_stream() -> None:
    t = table(streamEnabled=False)
    public = table_policy(doc(allow("*", "dynamodb:GetItem", "*")), UNKNOWN, resourceArn=[t.urn])
    (text,) = run(key(), t, *user(USER, READS), public).texts
    assert f"GetItem on {TABLE_ARN})" in text  # the table, not a stream


def test_a_table_known_by_name_only_finds_its_policy_by_that_name() -> None:
    t = table(arn=UNKNOWN)
    public = table_policy(doc(allow("*", "dynamodb:Scan", "*")), TABLE_ARN)
    r = run(key(), t, *user(USER, READS), public)
    assert any("Scan" in m for m in r.texts)


def test_a_malformed_scp_in_the_config_is_one_violation_naming_it() -> None:
    bad = {"Version": "2012-10-17", "Statement": [{"Effect": "Maybe"}]}
    r = run(*baseline(), config={"serviceControlPolicies": [bad]})
    [f] = r.found
    assert (f.code, f.resource) == (
        "org-policy-malformed",
        "policy config serviceControlPolicies[0]",
    )
    assert (f.witness["setting"], f.witness["index"]) == ("serviceControlPolicies", 0)


def test_an_unknown_key_policy_defers() -> None:
    r = run(key(policy=UNKNOWN), table(), *user(USER, READS))
    assert r.texts == [] and r.deferred_codes == ["key-policy-unknown"]
    assert r.deferred == [
        "Table 'orders': the key policy (inline policy) is unknown during preview"
    ]


def test_the_default_key_policy_of_an_unknown_account_defers() -> None:
    k = Res(AwsType.KMS_KEY, "key", {**key_props(policy=None), "arn": UNKNOWN})
    t = table(serverSideEncryption={"enabled": True, "kmsKeyArn": UNKNOWN})
    t.deps = {"serverSideEncryption": [k.urn]}
    args = stack_args([k, t, *user(USER, READS)], provider_props={"region": "us-east-1"})
    r = run_rule(rule, args)
    assert r.texts == [] and "key-account-unknown" in r.deferred_codes


def test_an_unknown_grant_defers() -> None:
    k = key()
    g = Res(
        AwsType.KMS_GRANT,
        "g",
        {"keyId": KEY_ARN, "granteePrincipal": UNKNOWN, "operations": ["Decrypt"]},
        keyId=[k.urn],
    )
    r = run(k, table(), *user(USER, READS), g)
    assert r.texts == [] and r.deferred_codes == ["grant-unknown"]
    assert r.deferred_found[0].witness["problem"] == (
        "its grantee principal is unknown during preview"
    )


def test_principals_unknown_now_defer() -> None:
    u = Res(AwsType.IAM_USER, "ghost", {"name": UNKNOWN, "arn": UNKNOWN})
    r = run(*baseline(), u)
    assert r.texts == [] and r.deferred_codes == ["principal-arn-unknown"]
    assert r.deferred == ["the ARN of user 'ghost' is unknown during preview"]
    r = run(key(), table(), *user(USER, UNKNOWN))
    assert r.texts == [] and r.deferred_codes == ["principal-policies-unknown"]
    assert r.deferred_found[0].witness == {"principal": USER}


def test_a_proof_over_its_time_limit_defers() -> None:
    many = doc(
        *(
            allow(
                "*",
                "dynamodb:GetItem",
                Condition={"StringLike": {"aws:PrincipalArn": f"arn:aws:iam::*:role/t{i}-*-x"}},
            )
            for i in range(40)
        )
    )
    r = run(*baseline(), table_policy(many), config={"proverTimeoutSeconds": 0.001})
    assert "prover-unanswered" in r.deferred_codes
    f = next(f for f in r.deferred_found if f.code == "prover-unanswered")
    assert f.detail == f"who can read it is unanswered: {f.witness['reason']}"


def test_an_scp_larger_than_organizations_allows_is_refused_as_the_org_directory_refuses_it() -> (
    None
):
    # One reading of organization policies: the config's documents get the same 5,120-byte
    # bound as the --org-policies directory's files (the pack had no bound of its own).
    big = {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": f"S{i}", "Effect": "Allow", "Action": "*", "Resource": "*"} for i in range(120)
        ],
    }
    r = run(*baseline(), config={"serviceControlPolicies": [big]})
    [f] = r.found
    assert f.code == "org-policy-malformed"
    assert "an organization policy is at most 5120" in f.witness["problem"]
