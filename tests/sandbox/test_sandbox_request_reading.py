"""One reading of every request: what is authorized is what runs (encodings, decoys, side doors)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from kmsguard.contract import DYNAMODB_FULL_ACCESS_POLICY_ARN
from sandbox import SandboxInfo
from tests.access.docs import row
from tests.sandbox.helpers import (
    User,
    allow,
    cmk_table,
    denied,
    item,
    make_key,
    make_table,
    make_user,
    raw_call,
    unique,
)

pytestmark = pytest.mark.sandbox


def _creds(user: User) -> tuple[str, str]:
    return user.access_key_id, user.secret_access_key


def _secret_table(sb: SandboxInfo) -> tuple[dict[str, Any], str]:
    key = make_key(sb)
    table = cmk_table(sb, key)
    sb.client("dynamodb").put_item(TableName=table, Item=item("secret", data="TOP"))
    return key, table


def _root_key(sb: SandboxInfo, *statements: dict[str, Any]) -> dict[str, Any]:
    """A key whose policy delegates to IAM (the account root), plus `statements`."""
    root = {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{sb.account_id}:root"},
        "Action": "kms:*",
        "Resource": "*",
    }
    policy = {"Version": "2012-10-17", "Statement": [root, *statements]}
    return sb.client("kms").create_key(Policy=json.dumps(policy))["KeyMetadata"]


def _exists(sb: SandboxInfo, table: str) -> bool:
    ddb = sb.client("dynamodb")
    try:
        ddb.describe_table(TableName=table)
    except ddb.exceptions.ResourceNotFoundException:
        return False
    return True


# ------------------------------------------------------------------ encodings


@pytest.mark.parametrize("action", ["GetItem", "Scan"])
def test_attack_gzip_item_read_is_authorized_like_plain(sb: SandboxInfo, action: str) -> None:
    row("sandbox-canonical-request")
    attacker = make_user(sb, managed=(DYNAMODB_FULL_ACCESS_POLICY_ARN,))
    key, table = _secret_table(sb)
    params: dict[str, Any] = {"TableName": table}
    if action == "GetItem":
        params["Key"] = {"pk": {"S": "secret"}}
    answer = raw_call(sb, "dynamodb", action, params, creds=_creds(attacker), gzip_body=True)
    assert answer.code == "AccessDeniedException", answer.text
    assert "TOP" not in answer.text and key["Arn"] in answer.text
    # The same gzip request from a caller the key allows is read as the service reads it.
    admin = raw_call(sb, "dynamodb", action, params, gzip_body=True)
    assert admin.status == 200 and "TOP" in admin.text


def test_attack_gzip_decrypt_needs_the_key(sb: SandboxInfo) -> None:
    row("sandbox-canonical-request")
    attacker = make_user(sb)
    key = make_key(sb)
    blob = sb.client("kms").encrypt(KeyId=key["KeyId"], Plaintext=b"TOP")["CiphertextBlob"]
    params = {"CiphertextBlob": base64.b64encode(blob).decode()}
    answer = raw_call(sb, "kms", "Decrypt", params, creds=_creds(attacker), gzip_body=True)
    assert answer.code == "AccessDeniedException" and "Plaintext" not in answer.body
    admin = raw_call(sb, "kms", "Decrypt", params, gzip_body=True)
    assert base64.b64decode(admin.body["Plaintext"]) == b"TOP"


@pytest.mark.parametrize("encoding", ["deflate", "br", "GZIP", "gzip, gzip"])
def test_other_content_encodings_are_refused(sb: SandboxInfo, encoding: str) -> None:
    row("sandbox-canonical-request")
    answer = raw_call(sb, "dynamodb", "ListTables", {}, headers={"Content-Encoding": encoding})
    assert answer.status == 400 and answer.code == "ValidationException"
    assert "Content-Encoding" in answer.body["message"] and "gzip" in answer.body["message"]


def test_gzip_bomb_is_refused_without_inflating_past_the_limit(sb: SandboxInfo) -> None:
    import gzip

    row("sandbox-canonical-request")
    # 40 MB of spaces inflates past DynamoDB's 16 MB request limit; sent as 40 KB.
    bomb = gzip.compress(b"{" + b" " * (40 * 1024 * 1024) + b"}")
    answer = raw_call(
        sb,
        "dynamodb",
        "ListTables",
        {},
        body=bomb,
        headers={
            "Content-Encoding": "gzip",
            "X-Amz-Target": "DynamoDB_20120810.ListTables",
            "Content-Type": "application/x-amz-json-1.0",
        },
    )
    assert answer.status == 413 and answer.code == "RequestEntityTooLarge"


def test_corrupt_gzip_and_non_object_json_are_refused(sb: SandboxInfo) -> None:
    row("sandbox-canonical-request")
    headers = {"X-Amz-Target": "DynamoDB_20120810.Scan"}
    headers["Content-Type"] = "application/x-amz-json-1.0"
    corrupt = raw_call(
        sb,
        "dynamodb",
        "Scan",
        {},
        body=b"\x1f\x8bnot gzip",
        headers=headers | {"Content-Encoding": "gzip"},
    )
    assert corrupt.code == "SerializationException", corrupt.text
    for body in (b"[1]", b"not json", b'"TableName"', b"\xff\xfe", b'{"a":' + b"[" * 100_000):
        answer = raw_call(sb, "dynamodb", "Scan", {}, body=body, headers=headers)
        assert answer.code == "SerializationException", (body, answer.text)


def test_attack_query_string_parameter_beside_the_body_is_refused(sb: SandboxInfo) -> None:
    row("sandbox-canonical-request")
    iam = sb.client("iam")
    victim = unique("victim")
    iam.create_user(UserName=victim)
    attacker = make_user(sb)
    own = f"arn:aws:iam::{sb.account_id}:user/{attacker.name}"
    iam.put_user_policy(
        UserName=attacker.name,
        PolicyName="self",
        PolicyDocument=json.dumps(allow("iam:PutUserPolicy", own)),
    )
    grant = json.dumps(allow("*"))
    params = {"UserName": attacker.name, "PolicyName": "p", "PolicyDocument": grant}
    answer = raw_call(
        sb, "iam", "PutUserPolicy", params, creds=_creds(attacker), query=f"UserName={victim}"
    )
    assert answer.status == 400 and answer.code == "ValidationError", answer.text
    assert "UserName" in answer.text
    assert iam.list_user_policies(UserName=victim)["PolicyNames"] == []


def test_attack_x_amz_target_of_another_api_version_is_refused(sb: SandboxInfo) -> None:
    row("sandbox-canonical-request")
    answer = raw_call(
        sb, "dynamodb", "ListTables", {}, headers={"X-Amz-Target": "DynamoDB_20111205.ListTables"}
    )
    assert answer.code == "UnknownOperationException"


# ------------------------------------------------------------------ KMS ciphertexts


def test_attack_reencrypt_with_own_source_key_is_incorrect_key(sb: SandboxInfo) -> None:
    row("sandbox-ciphertext-key")
    attacker = make_user(sb)
    own = make_key(sb, users=(attacker.arn,))
    victim = make_key(sb)
    blob = sb.client("kms").encrypt(KeyId=victim["KeyId"], Plaintext=b"TOP")["CiphertextBlob"]
    kms = attacker.client(sb, "kms")
    response = denied(
        lambda: kms.re_encrypt(
            CiphertextBlob=blob, SourceKeyId=own["KeyId"], DestinationKeyId=own["KeyId"]
        )
    )
    assert response["Error"]["Code"] == "IncorrectKeyException"
    # Without SourceKeyId, kms:ReEncryptFrom is asked of the key that encrypted it.
    response = denied(lambda: kms.re_encrypt(CiphertextBlob=blob, DestinationKeyId=own["KeyId"]))
    assert response["Error"]["Code"] == "AccessDeniedException"
    assert "kms:ReEncryptFrom" in response["Error"]["Message"]
    assert victim["Arn"] in response["Error"]["Message"]


def test_decrypt_with_another_key_id_is_incorrect_key(sb: SandboxInfo) -> None:
    row("sandbox-ciphertext-key")
    user = make_user(sb)
    own = _root_key(
        sb,
        {
            "Effect": "Allow",
            "Principal": {"AWS": user.arn},
            "Action": "kms:Decrypt",
            "Resource": "*",
        },
    )
    victim = make_key(sb)
    blob = sb.client("kms").encrypt(KeyId=victim["KeyId"], Plaintext=b"TOP")["CiphertextBlob"]
    kms = user.client(sb, "kms")
    response = denied(lambda: kms.decrypt(CiphertextBlob=blob, KeyId=own["KeyId"]))
    assert response["Error"]["Code"] == "IncorrectKeyException"
    response = denied(lambda: kms.decrypt(CiphertextBlob=b"\x00" * 80))
    assert response["Error"]["Code"] == "InvalidCiphertextException"
    mine = sb.client("kms").encrypt(KeyId=own["KeyId"], Plaintext=b"ok")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=mine)["Plaintext"] == b"ok"
    assert kms.decrypt(CiphertextBlob=mine, KeyId=own["Arn"])["Plaintext"] == b"ok"


# ------------------------------------------------------------------ restores


def test_attack_restore_with_decoy_source_arn_is_refused(sb: SandboxInfo) -> None:
    row("sandbox-restore-source")
    attacker = make_user(sb, managed=(DYNAMODB_FULL_ACCESS_POLICY_ARN,))
    _, secret = _secret_table(sb)
    ddb = attacker.client(sb, "dynamodb")
    decoy = make_table(sb, None)
    copy = unique("copy")
    decoy_arn = f"arn:aws:dynamodb:{sb.region}:{sb.account_id}:table/{decoy}"
    response = denied(
        lambda: ddb.restore_table_to_point_in_time(
            SourceTableArn=decoy_arn, SourceTableName=secret, TargetTableName=copy
        )
    )
    assert response["Error"]["Code"] == "ValidationException"
    assert not _exists(sb, copy)
    # Naming the same table both ways is no less ambiguous to the API.
    response = denied(
        lambda: ddb.restore_table_to_point_in_time(
            SourceTableArn=decoy_arn, SourceTableName=decoy, TargetTableName=copy
        )
    )
    assert response["Error"]["Code"] == "ValidationException"
    ddb.restore_table_to_point_in_time(SourceTableArn=decoy_arn, TargetTableName=copy)
    assert _exists(sb, copy)


# ------------------------------------------------------------------ PartiQL


@pytest.mark.parametrize(
    "statement",
    [
        'SELECT data, "from x" FROM "{secret}"',
        'SELECT * FROM "{decoy}" , "{secret}"',
        'SELECT * FROM "{decoy}","{secret}"',
        "select * from {secret}",
    ],
)
def test_attack_partiql_statement_is_read_by_the_parser(sb: SandboxInfo, statement: str) -> None:
    row("sandbox-partiql-tables")
    attacker = make_user(sb, managed=(DYNAMODB_FULL_ACCESS_POLICY_ARN,))
    key, secret = _secret_table(sb)
    decoy = make_table(sb, None, name=unique("x"))
    text = statement.format(secret=secret, decoy=decoy)
    ddb = attacker.client(sb, "dynamodb")
    response = denied(lambda: ddb.execute_statement(Statement=text))
    assert response["Error"]["Code"] == "AccessDeniedException"
    assert key["Arn"] in response["Error"]["Message"]
    response = denied(lambda: ddb.batch_execute_statement(Statements=[{"Statement": text}]))
    assert response["Error"]["Code"] == "AccessDeniedException"


@pytest.mark.parametrize("statement", ["EXPLAIN SELECT * FROM t", " SELECT * FROM t", "SELECT"])
def test_partiql_statement_the_parser_cannot_read_is_refused(
    sb: SandboxInfo, statement: str
) -> None:
    row("sandbox-partiql-tables")
    response = denied(lambda: sb.client("dynamodb").execute_statement(Statement=statement))
    assert response["Error"]["Code"] == "ValidationException"
    assert "Statement" in response["Error"]["Message"]


def test_partiql_reads_only_the_tables_it_authorized(sb: SandboxInfo) -> None:
    row("sandbox-partiql-tables")
    user = make_user(sb, managed=(DYNAMODB_FULL_ACCESS_POLICY_ARN,))
    table = make_table(sb, None)
    sb.client("dynamodb").put_item(TableName=table, Item=item("a", v="1"))
    ddb = user.client(sb, "dynamodb")
    assert ddb.execute_statement(Statement=f'SELECT * FROM "{table}"')["Items"] == [
        item("a", v="1")
    ]


# ------------------------------------------------------------------ aliases


def test_attack_alias_under_aws_prefix_is_refused(sb: SandboxInfo) -> None:
    row("sandbox-alias-aws-reserved")
    attacker = make_user(
        sb, managed=(DYNAMODB_FULL_ACCESS_POLICY_ARN,), inline=allow("kms:CreateAlias")
    )
    key = _root_key(sb)
    table = cmk_table(sb, key)
    sb.client("dynamodb").put_item(TableName=table, Item=item("secret", data="TOP"))
    kms = attacker.client(sb, "kms")
    response = denied(
        lambda: kms.create_alias(AliasName="alias/aws/innocent", TargetKeyId=key["KeyId"])
    )
    assert response["Error"]["Code"] == "NotAuthorizedException"
    ddb = attacker.client(sb, "dynamodb")
    assert denied(lambda: ddb.scan(TableName=table))["Error"]["Code"] == "AccessDeniedException"
    # The prefix is AWS's: not even the account root creates, updates or deletes under it.
    admin = sb.client("kms")
    for call in (
        lambda: admin.create_alias(AliasName="alias/aws/innocent", TargetKeyId=key["KeyId"]),
        lambda: admin.update_alias(AliasName="alias/aws/dynamodb", TargetKeyId=key["KeyId"]),
        lambda: admin.delete_alias(AliasName="alias/aws/dynamodb"),
    ):
        assert denied(call)["Error"]["Code"] == "NotAuthorizedException"


def test_aws_managed_key_keeps_its_policy_whatever_its_aliases(sb: SandboxInfo) -> None:
    row("sandbox-alias-aws-reserved")
    table = make_table(sb, {"Enabled": True, "SSEType": "KMS"})
    arn = sb.client("dynamodb").describe_table(TableName=table)["Table"]["SSEDescription"][
        "KMSMasterKeyArn"
    ]
    described = sb.client("kms").describe_key(KeyId=arn)["KeyMetadata"]
    assert described["KeyManager"] == "AWS"
    # Any principal of the account reads through DynamoDB (AWS's policy for that key).
    reader = make_user(sb, managed=(DYNAMODB_FULL_ACCESS_POLICY_ARN,))
    assert reader.client(sb, "dynamodb").scan(TableName=table)["Count"] == 0
    # Its policy is AWS's, not the account's: not even the root gives it an alias.
    response = denied(
        lambda: sb.client("kms").create_alias(AliasName=unique("alias/ddb"), TargetKeyId=arn)
    )
    assert response["Error"]["Code"] == "AccessDeniedException"


def _alias_setup(
    sb: SandboxInfo, deny_on: str | None, alias_allowed: bool
) -> tuple[User, str, dict[str, Any], dict[str, Any]]:
    name = unique("alias/update")
    user = make_user(sb)
    deny = {
        "Effect": "Deny",
        "Principal": {"AWS": user.arn},
        "Action": "kms:UpdateAlias",
        "Resource": "*",
    }
    current = _root_key(sb, *([deny] if deny_on == "current" else []))
    new = _root_key(sb, *([deny] if deny_on == "new" else []))
    sb.client("kms").create_alias(AliasName=name, TargetKeyId=current["KeyId"])
    resources = [current["Arn"], new["Arn"]]
    if alias_allowed:
        resources.append(f"arn:aws:kms:{sb.region}:{sb.account_id}:{name}")
    policy = json.dumps(allow("kms:UpdateAlias", resources))  # type: ignore[arg-type]
    sb.client("iam").put_user_policy(UserName=user.name, PolicyName="alias", PolicyDocument=policy)
    return user, name, current, new


def _alias_target(sb: SandboxInfo, name: str) -> str:
    aliases = sb.client("kms").list_aliases()["Aliases"]
    return next(a["TargetKeyId"] for a in aliases if a["AliasName"] == name)


def test_update_alias_with_all_three_permissions(sb: SandboxInfo) -> None:
    row("sandbox-alias-access")
    user, name, _, new = _alias_setup(sb, None, alias_allowed=True)
    user.client(sb, "kms").update_alias(AliasName=name, TargetKeyId=new["KeyId"])
    assert _alias_target(sb, name) == new["KeyId"]


@pytest.mark.parametrize(
    ("deny_on", "alias_allowed", "named"),
    [("alias", False, "alias"), ("current", True, "current"), ("new", True, "new")],
)
def test_update_alias_needs_the_alias_and_both_keys(
    sb: SandboxInfo, deny_on: str, alias_allowed: bool, named: str
) -> None:
    row("sandbox-alias-access")
    user, name, current, new = _alias_setup(
        sb, deny_on if deny_on != "alias" else None, alias_allowed
    )
    kms = user.client(sb, "kms")
    response = denied(lambda: kms.update_alias(AliasName=name, TargetKeyId=new["KeyId"]))
    assert response["Error"]["Code"] == "AccessDeniedException"
    expected = {"alias": f":{name}", "current": current["Arn"], "new": new["Arn"]}[named]
    assert expected in response["Error"]["Message"]
    assert _alias_target(sb, name) == current["KeyId"]


def test_create_and_delete_alias_need_the_alias_resource(sb: SandboxInfo) -> None:
    row("sandbox-alias-access")
    key = _root_key(sb)
    name = unique("alias/own")
    user = make_user(sb, inline=allow(["kms:CreateAlias", "kms:DeleteAlias"], key["Arn"]))
    kms = user.client(sb, "kms")
    response = denied(lambda: kms.create_alias(AliasName=name, TargetKeyId=key["KeyId"]))
    assert response["Error"]["Code"] == "AccessDeniedException"
    assert f":{name}" in response["Error"]["Message"]
    sb.client("kms").create_alias(AliasName=name, TargetKeyId=key["KeyId"])
    response = denied(lambda: kms.delete_alias(AliasName=name))
    assert response["Error"]["Code"] == "AccessDeniedException"
    assert f":{name}" in response["Error"]["Message"]


# ------------------------------------------------------------------ deny by default


@pytest.mark.parametrize(
    ("action", "params"),
    [
        ("TransactGetItems", {"TransactItems": [{"get": {"TableName": "{t}", "Key": {}}}]}),
        ("TransactWriteItems", {"TransactItems": ["{t}"]}),
        ("BatchGetItem", {"RequestItems": ["{t}"]}),
        ("Scan", {}),
        ("UpdateTable", {"BillingMode": "PAY_PER_REQUEST"}),
    ],
)
def test_request_naming_no_table_is_refused(
    sb: SandboxInfo, action: str, params: dict[str, Any]
) -> None:
    row("sandbox-differential")
    table = make_table(sb, None)
    text = json.dumps(params).replace("{t}", table)
    answer = raw_call(sb, "dynamodb", action, json.loads(text))
    assert answer.code == "ValidationException", answer.text
    assert "names no table" in answer.text or "must name the table" in answer.text


def test_transaction_with_an_entry_naming_no_table_is_refused_whole(sb: SandboxInfo) -> None:
    row("sandbox-differential")
    attacker = make_user(sb, managed=(DYNAMODB_FULL_ACCESS_POLICY_ARN,))
    _, secret = _secret_table(sb)
    decoy = make_table(sb, None)
    params = {
        "TransactItems": [
            {"Get": {"TableName": decoy, "Key": {"pk": {"S": "a"}}}},
            {"Get": {"tablename": secret, "Key": {"pk": {"S": "secret"}}}},
        ]
    }
    answer = raw_call(sb, "dynamodb", "TransactGetItems", params, creds=_creds(attacker))
    assert answer.code == "ValidationException" and "TOP" not in answer.text
    assert "names no table" in answer.text


@pytest.mark.parametrize(
    "value",
    [
        "arn:aws:dynamodb:us-west-2:123456789012:table/{t}",
        "arn:aws:dynamodb:us-east-1:999999999999:table/{t}",
        "ARN:aws:dynamodb:us-east-1:123456789012:table/{t}",
        "arn:aws:dynamodb:us-east-1:123456789012:table/decoy/../{t}",
        "{t}/x",
        "{t}\u0000",
    ],
)
def test_table_reference_moto_would_read_otherwise_is_refused(sb: SandboxInfo, value: str) -> None:
    row("sandbox-differential")
    table = make_table(sb, None)
    reference = value.replace("{t}", table)
    answer = raw_call(sb, "dynamodb", "Scan", {"TableName": reference})
    # Refused by the sandbox's reading, naming what was wrong, before moto looks anything up.
    if value.startswith("arn:aws:dynamodb:us-east-1:123456789012:") or not value.startswith("arn"):
        assert answer.code == "ValidationException", answer.text
        assert "is not a table name or table ARN" in answer.body["message"]
    else:
        assert answer.code == "ResourceNotFoundException", answer.text
        assert reference in answer.body["message"]


def test_attack_partiql_through_an_index_is_authorized_on_its_table(sb: SandboxInfo) -> None:
    row("sandbox-partiql-tables")
    attacker = make_user(sb, managed=(DYNAMODB_FULL_ACCESS_POLICY_ARN,))
    key = make_key(sb)
    secret = unique("secret")
    ddb = sb.client("dynamodb")
    ddb.create_table(
        TableName=secret,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "data", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "bydata",
                "KeySchema": [{"AttributeName": "data", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
        SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": key["Arn"]},
    )
    ddb.put_item(TableName=secret, Item=item("secret", data="TOP"))
    own = attacker.client(sb, "dynamodb")
    response = denied(lambda: own.execute_statement(Statement=f"SELECT * FROM {secret}.bydata"))
    assert response["Error"]["Code"] == "AccessDeniedException"
    assert key["Arn"] in response["Error"]["Message"]
    # The admin reads the index: the name is resolved, not refused.
    items = ddb.execute_statement(Statement=f"SELECT * FROM {secret}.bydata")["Items"]
    assert items == [item("secret", data="TOP")]


def test_attack_the_quoted_index_form_is_authorized_on_the_index_and_what_moto_reads(
    sb: SandboxInfo,
) -> None:
    row("sandbox-partiql-tables")
    key = make_key(sb)
    ddb = sb.client("dynamodb")
    base = unique("t")
    ddb.create_table(
        TableName=base,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "data", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "bydata",
                "KeySchema": [{"AttributeName": "data", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    ddb.put_item(TableName=base, Item=item("open", data="PUBLIC"))
    # A table whose name is the index's dotted name: moto keeps both under one name.
    dotted = f"{base}.bydata"
    ddb.create_table(
        TableName=dotted,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": key["Arn"]},
    )
    ddb.put_item(TableName=dotted, Item=item("secret", data="TOP"))
    statement = f'SELECT * FROM "{base}"."bydata" WHERE "data" = ?'
    params = [{"S": "PUBLIC"}]
    reader = make_user(
        sb, inline=allow(["dynamodb:PartiQLSelect"], f"arn:aws:dynamodb:*:*:table/{base}/index/*")
    )
    own = reader.client(sb, "dynamodb")
    response = denied(lambda: own.execute_statement(Statement=statement, Parameters=params))
    assert dotted in response["Error"]["Message"]
    ddb.delete_table(TableName=dotted)
    items = own.execute_statement(Statement=statement, Parameters=params)["Items"]
    assert items == [item("open", data="PUBLIC")]


def test_a_quoted_table_in_a_batch_statement_is_the_table_authorized(sb: SandboxInfo) -> None:
    row("sandbox-partiql-tables")
    table = make_table(sb, None)
    ddb = sb.client("dynamodb")
    ddb.put_item(TableName=table, Item=item("a", v="x"))
    statement = {"Statement": f'SELECT * FROM "{table}" WHERE "pk" = ?', "Parameters": [{"S": "a"}]}
    [answer] = ddb.batch_execute_statement(Statements=[statement])["Responses"]
    assert answer.get("Item") == item("a", v="x"), answer
    other = make_user(sb, inline=allow("dynamodb:PartiQLSelect", "arn:aws:dynamodb:*:*:table/x"))
    own = other.client(sb, "dynamodb")
    response = denied(lambda: own.batch_execute_statement(Statements=[statement]))
    assert table in response["Error"]["Message"]


def test_json_nested_past_dynamodb_depth_is_refused_not_a_server_error(sb: SandboxInfo) -> None:
    row("sandbox-canonical-request")
    deep: dict[str, Any] = {"S": "x"}
    for _ in range(120):
        deep = {"M": {"a": deep}}
    table = make_table(sb, None)
    answer = raw_call(
        sb, "dynamodb", "PutItem", {"TableName": table, "Item": {"pk": {"S": "a"}, "d": deep}}
    )
    assert answer.status == 400 and answer.code == "ValidationException", answer.text
    assert "deeper than" in answer.body["message"]


@pytest.mark.parametrize("action", ["DeleteAccessKey", "UpdateAccessKey"])
def test_attack_access_key_of_another_user_without_user_name_is_refused(
    sb: SandboxInfo, action: str
) -> None:
    row("sandbox-iam-implicit-user")
    victim = make_user(sb)
    attacker = make_user(sb)
    own = f"arn:aws:iam::{sb.account_id}:user/{attacker.name}"
    sb.client("iam").put_user_policy(
        UserName=attacker.name,
        PolicyName="self-service",
        PolicyDocument=json.dumps(allow(["iam:DeleteAccessKey", "iam:UpdateAccessKey"], own)),
    )
    params = {"AccessKeyId": victim.access_key_id}
    if action == "UpdateAccessKey":
        params["Status"] = "Inactive"
    # Without UserName IAM acts on the signing user, whose key this is not.
    answer = raw_call(sb, "iam", action, params, creds=_creds(attacker))
    assert answer.status >= 400 and answer.code == "NoSuchEntity", answer.text
    keys = sb.client("iam").list_access_keys(UserName=victim.name)["AccessKeyMetadata"]
    assert [(k["AccessKeyId"], k["Status"]) for k in keys] == [(victim.access_key_id, "Active")]
    # The caller's own key, named the same way, is the caller's to change.
    params["AccessKeyId"] = attacker.access_key_id
    if action == "UpdateAccessKey":
        params["Status"] = "Active"
        assert (
            raw_call(
                sb, action="UpdateAccessKey", service="iam", params=params, creds=_creds(attacker)
            ).status
            == 200
        )


def test_attack_add_self_to_a_group_is_authorized_on_the_group(sb: SandboxInfo) -> None:
    row("sandbox-iam-resource")
    iam = sb.client("iam")
    admins = unique("admins")
    iam.create_group(GroupName=admins)
    iam.put_group_policy(GroupName=admins, PolicyName="all", PolicyDocument=json.dumps(allow("*")))
    attacker = make_user(sb)
    own = f"arn:aws:iam::{sb.account_id}:user/{attacker.name}"
    iam.put_user_policy(
        UserName=attacker.name,
        PolicyName="self",
        PolicyDocument=json.dumps(allow("iam:AddUserToGroup", own)),
    )
    # AddUserToGroup is authorized on the group (the IAM catalog's resource), not the user.
    response = denied(
        lambda: attacker.client(sb, "iam").add_user_to_group(
            GroupName=admins, UserName=attacker.name
        )
    )
    assert response["Error"]["Code"] == "AccessDenied"
    assert f":group/{admins}" in response["Error"]["Message"]
    assert iam.get_group(GroupName=admins)["Users"] == []


def _table_with_index(sb: SandboxInfo) -> str:
    name = unique("indexed")
    ddb = sb.client("dynamodb")
    ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "data", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "bydata",
                "KeySchema": [{"AttributeName": "data", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    ddb.put_item(TableName=name, Item=item("a", data="d"))
    return name


def test_reads_through_an_index_are_authorized_on_the_index(sb: SandboxInfo) -> None:
    row("sandbox-index-resource")
    table = _table_with_index(sb)
    arn = f"arn:aws:dynamodb:{sb.region}:{sb.account_id}:table/{table}"
    actions = ["dynamodb:Query", "dynamodb:Scan", "dynamodb:PartiQLSelect"]
    on_table = make_user(sb, inline=allow(actions, arn)).client(sb, "dynamodb")
    on_index = make_user(sb, inline=allow(actions, f"{arn}/index/*")).client(sb, "dynamodb")
    query = {
        "TableName": table,
        "IndexName": "bydata",
        "KeyConditionExpression": "#d = :d",
        "ExpressionAttributeNames": {"#d": "data"},
        "ExpressionAttributeValues": {":d": {"S": "d"}},
    }
    for call in (
        lambda c: c.query(**query),
        lambda c: c.scan(TableName=table, IndexName="bydata"),
        lambda c: c.execute_statement(Statement=f"SELECT * FROM {table}.bydata"),
    ):
        response = denied(lambda call=call: call(on_table))
        assert response["Error"]["Code"] == "AccessDeniedException"
        assert f"{arn}/index/bydata" in response["Error"]["Message"]
        assert call(on_index)["Items"] == [item("a", data="d")]
    assert denied(lambda: on_index.scan(TableName=table))["Error"]["Code"] == (
        "AccessDeniedException"
    )


@pytest.mark.parametrize(
    "headers",
    [{"User-Agent": "aws-cli/2 region/us-west-2"}, {"Host": "dynamodb.us-west-2.amazonaws.com"}],
    ids=["user-agent", "host"],
)
def test_attack_region_from_a_header_is_not_moto_s_region(
    sb: SandboxInfo, headers: dict[str, str]
) -> None:
    row("sandbox-canonical-request")
    west = "us-west-2"
    key = raw_call(sb, "kms", "CreateKey", {}, region=west).body["KeyMetadata"]
    table = unique("regional")
    create = {
        "TableName": table,
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
        "BillingMode": "PAY_PER_REQUEST",
        "SSESpecification": {"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": key["Arn"]},
    }
    assert raw_call(sb, "dynamodb", "CreateTable", create, region=west).status == 200
    put = {"TableName": table, "Item": item("secret", data="TOP")}
    assert raw_call(sb, "dynamodb", "PutItem", put, region=west).status == 200
    # The attacker's own table of the same name, in the region it signs for.
    attacker = make_user(sb, managed=(DYNAMODB_FULL_ACCESS_POLICY_ARN,))
    make_table(sb, None, name=table)
    answer = raw_call(
        sb, "dynamodb", "Scan", {"TableName": table}, creds=_creds(attacker), headers=headers
    )
    assert "TOP" not in answer.text
    assert answer.status == 200 and answer.body["Count"] == 0, answer.text
