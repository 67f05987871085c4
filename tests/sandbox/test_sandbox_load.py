"""Concurrent clients through the authorization layer: no errors, no lost items."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from kmsguard.contract import DYNAMODB_FULL_ACCESS_POLICY_ARN
from kmsguard.keypolicy import KeyPolicyRoles, key_policy_json
from sandbox import running

pytestmark = pytest.mark.sandbox

CLIENTS = 8
OPERATIONS = 200  # per client: alternating PutItem and GetItem


def test_concurrent_granted_clients_lose_nothing() -> None:
    with running() as sb:
        iam = sb.client("iam")
        arn = iam.create_user(UserName="loader")["User"]["Arn"]
        iam.attach_user_policy(UserName="loader", PolicyArn=DYNAMODB_FULL_ACCESS_POLICY_ARN)
        key = iam.create_access_key(UserName="loader")["AccessKey"]
        roles = KeyPolicyRoles(account_id=sb.account_id, region=sb.region, users=(arn,))
        kms_key = sb.client("kms").create_key(Policy=key_policy_json(roles))["KeyMetadata"]
        sb.client("dynamodb").create_table(
            TableName="load",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": kms_key["Arn"]},
        )

        def worker(n: int) -> int:
            ddb = sb.client("dynamodb", key["AccessKeyId"], key["SecretAccessKey"])
            read = 0
            for i in range(OPERATIONS // 2):
                pk = {"S": f"{n}-{i}"}
                ddb.put_item(TableName="load", Item={"pk": pk, "v": {"S": json.dumps([n, i])}})
                got = ddb.get_item(TableName="load", Key={"pk": pk}, ConsistentRead=True)
                read += got["Item"]["v"]["S"] == json.dumps([n, i])
            return read

        with ThreadPoolExecutor(CLIENTS) as pool:
            reads = list(pool.map(worker, range(CLIENTS)))

        assert reads == [OPERATIONS // 2] * CLIENTS
        ddb = sb.client("dynamodb")
        pages = ddb.get_paginator("scan").paginate(TableName="load", Select="COUNT")
        assert sum(page["Count"] for page in pages) == CLIENTS * OPERATIONS // 2
