"""AWS's size limits: request bodies, items, key policies; refused without holding the body."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import pytest

from sandbox import SandboxInfo, limits, running
from sandbox.wire import ApiRequest
from tests.access.docs import row
from tests.sandbox.helpers import denied, make_table, table_names

# One worker runs the whole module, so its own sandbox is started once.
pytestmark = [pytest.mark.sandbox, pytest.mark.xdist_group("sandbox-limits")]


@pytest.fixture(scope="module")
def sb() -> Iterator[SandboxInfo]:
    with running() as info:
        yield info


def test_item_over_400_kb_is_refused(sb: SandboxInfo) -> None:
    table = make_table(sb, None)
    ddb = sb.client("dynamodb")
    fits = 390 * 1024
    ddb.put_item(TableName=table, Item={"pk": {"S": "a"}, "v": {"S": "x" * fits}})
    for call in (
        lambda: ddb.put_item(
            TableName=table, Item={"pk": {"S": "b"}, "v": {"S": "x" * (fits + 20 * 1024)}}
        ),
        lambda: ddb.batch_write_item(
            RequestItems={
                table: [{"PutRequest": {"Item": {"pk": {"S": "c"}, "v": {"B": b"x" * 410_000}}}}]
            }
        ),
    ):
        response = denied(call)
        assert response["Error"]["Code"] == "ValidationException"
        assert response["Error"]["Message"] == "Item size has exceeded the maximum allowed size"
    assert ddb.scan(TableName=table)["Count"] == 1


def test_an_update_cannot_grow_an_item_past_400_kb(sb: SandboxInfo) -> None:
    # The side door next to PutItem: UpdateItem appends to a stored item.
    table = make_table(sb, None)
    ddb = sb.client("dynamodb")
    ddb.put_item(TableName=table, Item={"pk": {"S": "a"}, "v": {"S": "x" * (300 * 1024)}})

    def grow(extra: int) -> None:
        ddb.update_item(
            TableName=table,
            Key={"pk": {"S": "a"}},
            UpdateExpression="SET w = :w",
            ExpressionAttributeValues={":w": {"S": "y" * extra}},
        )

    # 400 KB exactly, counted as DynamoDB counts (names + values), is stored...
    grow(400 * 1024 - (2 + 1 + 1 + 300 * 1024 + 1))
    # ...one byte more is not, and the stored item is left as it was.
    response = denied(lambda: grow(400 * 1024 - (2 + 1 + 1 + 300 * 1024 + 1) + 1))
    assert response["Error"]["Code"] == "ValidationException"
    assert (
        "Item size to update has exceeded the maximum allowed size"
        in (response["Error"]["Message"])
    )
    # DynamoDB counts 3 bytes per list and 1 per element besides the values: 60,000 booleans
    # are 120,003 bytes to it, 60,000 to moto's own count, which stored them before.
    response = denied(
        lambda: ddb.update_item(
            TableName=table,
            Key={"pk": {"S": "a"}},
            UpdateExpression="SET w = :w",
            ExpressionAttributeValues={":w": {"L": [{"BOOL": True}] * 60_000}},
        )
    )
    assert response["Error"]["Code"] == "ValidationException"
    # An update that would create an item over the limit creates nothing.
    response = denied(
        lambda: ddb.update_item(
            TableName=table,
            Key={"pk": {"S": "new"}},
            UpdateExpression="SET w = :w",
            ExpressionAttributeValues={":w": {"S": "z" * (400 * 1024)}},
        )
    )
    assert response["Error"]["Code"] == "ValidationException"
    assert "Item" not in ddb.get_item(TableName=table, Key={"pk": {"S": "new"}})
    stored = ddb.get_item(TableName=table, Key={"pk": {"S": "a"}})["Item"]
    assert len(stored["w"]["S"]) == 400 * 1024 - (2 + 1 + 1 + 300 * 1024 + 1)


def test_a_partiql_update_cannot_store_an_item_past_400_kb(sb: SandboxInfo) -> None:
    # Another side door: PartiQL UPDATE stores whole items without PutItem or UpdateItem.
    # (An INSERT cannot carry that much: its statement is at most 8,192 characters.)
    table = make_table(sb, None)
    ddb = sb.client("dynamodb")
    ddb.execute_statement(Statement=f"INSERT INTO \"{table}\" VALUE {{'pk': 'a', 'v': 'small'}}")
    half = {"S": "x" * (250 * 1024)}
    response = denied(
        lambda: ddb.execute_statement(
            Statement=f"UPDATE \"{table}\" SET v = ?, w = ? WHERE pk = 'a'",
            Parameters=[half, half],
        )
    )
    assert response["Error"]["Code"] == "ValidationException"
    assert response["Error"]["Message"] == "Item size has exceeded the maximum allowed size"
    stored = ddb.get_item(TableName=table, Key={"pk": {"S": "a"}})["Item"]
    assert stored == {"pk": {"S": "a"}, "v": {"S": "small"}}
    ddb.execute_statement(
        Statement=f"UPDATE \"{table}\" SET w = ? WHERE pk = 'a'", Parameters=[half]
    )
    assert ddb.get_item(TableName=table, Key={"pk": {"S": "a"}})["Item"]["w"] == half


def _big_policy(sb: SandboxInfo, size: int) -> str:
    root = f"arn:aws:iam::{sb.account_id}:root"
    statements = [
        {
            "Sid": "Root",
            "Effect": "Allow",
            "Principal": {"AWS": root},
            "Action": "kms:*",
            "Resource": "*",
        }
    ]
    n = 0
    while len(json.dumps({"Version": "2012-10-17", "Statement": statements})) < size:
        n += 1
        statements.append(
            {
                "Sid": f"Pad{n}",
                "Effect": "Allow",
                "Principal": {"AWS": root},
                "Action": "kms:DescribeKey",
                "Resource": "*",
            }
        )
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def test_key_policy_over_32_kb_is_refused(sb: SandboxInfo) -> None:
    row("sandbox-key-policy-size")
    kms = sb.client("kms")
    big = _big_policy(sb, 32 * 1024 + 1)
    response = denied(lambda: kms.create_key(Policy=big))
    assert response["Error"]["Code"] == "LimitExceededException"
    key = kms.create_key(Policy=_big_policy(sb, 30 * 1024))["KeyMetadata"]["KeyId"]
    response = denied(lambda: kms.put_key_policy(KeyId=key, PolicyName="default", Policy=big))
    assert response["Error"]["Code"] == "LimitExceededException"
    stored = kms.get_key_policy(KeyId=key, PolicyName="default")["Policy"]
    assert len(stored) < 32 * 1024


def test_request_over_the_service_limit_is_refused(sb: SandboxInfo) -> None:
    row("sandbox-request-size")
    table = make_table(sb, None)
    ddb = sb.client("dynamodb")
    huge = "x" * (limits.DYNAMODB_REQUEST_BYTES + 1024)
    response = denied(
        lambda: ddb.put_item(TableName=table, Item={"pk": {"S": "a"}, "v": {"S": huge}})
    )
    assert response["Error"]["Code"] == "RequestEntityTooLarge"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 413
    kms = sb.client("kms")
    response = denied(lambda: kms.create_key(Description="x" * (limits.OTHER_REQUEST_BYTES + 1)))
    assert response["Error"]["Code"] == "RequestEntityTooLarge"
    # The server is still there and answers.
    assert table in table_names(ddb)


class _Tripwire(io.RawIOBase):
    """A body stream that fails the test if more than `allowed` bytes are read from it."""

    def __init__(self, total: int, allowed: int) -> None:
        self.left, self.allowed, self.read_so_far = total, allowed, 0

    def read(self, size: int = -1) -> bytes:
        if size < 0:
            raise AssertionError("unbounded read")
        n = min(size, self.left)
        self.left -= n
        self.read_so_far += n
        assert self.read_so_far <= self.allowed, "read past the limit"
        return b"x" * n


def test_bodies_are_read_no_further_than_the_limit() -> None:
    stream = _Tripwire(total=10_000_000, allowed=1001)
    assert limits.read_bounded(stream, None, 1000) is None  # chunked: limit + 1 at most
    stream = _Tripwire(total=10_000_000, allowed=1001)
    assert limits.read_bounded(stream, 10_000_000, 1000) is None  # a lying Content-Length too
    assert limits.read_bounded(io.BytesIO(b"abc"), 3, 1000) == b"abc"
    assert limits.read_bounded(io.BytesIO(b"abc"), None, 1000) == b"abc"


def test_item_size_follows_dynamodb_rules() -> None:
    # Attribute names count too: exactly 400 KB passes, one byte more does not.
    exact = {"pk": {"S": "a"}, "v": {"S": "x" * (400 * 1024 - 4)}}
    put = ApiRequest("k", "dynamodb", "us-east-1", "PutItem", "json", {"Item": exact})
    assert limits.item_size(exact) == 400 * 1024 and limits.oversized_item(put) is None
    exact["v"]["S"] += "x"
    assert limits.oversized_item(put) is not None
    assert limits.item_size({"ab": {"S": "héllo"}}) == 2 + 6
    assert limits.item_size({"n": {"N": "-123.45"}}) == 1 + 3
    assert limits.item_size({"m": {"M": {"k": {"BOOL": True}}}}) == 1 + 3 + 1 + 1 + 1
    request = ApiRequest("k", "dynamodb", "us-east-1", "PutItem", "json", {"Item": "nonsense"})
    assert limits.oversized_item(request) is None  # odd shapes are moto's to refuse


def test_identifiers_longer_than_the_api_allows_are_refused_before_authorization(
    sb: SandboxInfo,
) -> None:
    from botocore.config import Config

    from tests.sandbox.helpers import allow, make_user

    # A caller whose policy is all pathological wildcards, asking about a megabyte-long name:
    # refused for its length, before any policy is matched against it.
    patterns = [
        {
            "Effect": "Allow",
            "Action": "dynamodb:*",
            "Resource": "arn:aws:dynamodb:*:*:table/*a*a*a*a*a*a*c*b",
        }
    ]
    caller = make_user(sb, inline={"Version": "2012-10-17", "Statement": patterns})
    unchecked = Config(parameter_validation=False, retries={"max_attempts": 1})
    session = sb.session(caller.access_key_id, caller.secret_access_key)
    ddb = session.client("dynamodb", endpoint_url=sb.endpoint_url, config=unchecked)
    response = denied(lambda: ddb.describe_table(TableName="a" * 1_000_000))
    assert response["Error"]["Code"] == "ValidationException"
    assert "at 'tableName'" in response["Error"]["Message"]
    assert "less than or equal to 1024" in response["Error"]["Message"]
    nested = denied(
        lambda: ddb.transact_get_items(
            TransactItems=[{"Get": {"TableName": "a" * 5000, "Key": {"pk": {"S": "a"}}}}]
        )
    )
    assert nested["Error"]["Code"] == "ValidationException"
    user = make_user(sb, inline=allow("kms:DescribeKey"))
    kms = sb.session(user.access_key_id, user.secret_access_key).client(
        "kms", endpoint_url=sb.endpoint_url, config=unchecked
    )
    response = denied(lambda: kms.describe_key(KeyId="k" * 3000))
    assert response["Error"]["Code"] == "ValidationException"
    assert "at 'keyId'" in response["Error"]["Message"]


def _raw_exchange(sb: SandboxInfo, head: bytes, body_chunks: Iterator[bytes]) -> bytes:
    import socket
    from urllib.parse import urlsplit

    where = urlsplit(sb.endpoint_url)
    with socket.create_connection((where.hostname, where.port), timeout=30) as conn:
        conn.sendall(head)
        try:
            for chunk in body_chunks:
                conn.sendall(chunk)
        except OSError:
            pass  # the server may answer and close before the rest is sent
        answer = b""
        while b"\r\n\r\n" not in answer:
            data = conn.recv(65536)
            if not data:
                break
            answer += data
    return answer


def test_chunked_bodies_are_cut_at_the_limit_and_bodiless_requests_do_not_wait(
    sb: SandboxInfo,
) -> None:
    head = (
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
        b"X-Amz-Target: TrentService.ListKeys\r\nContent-Type: application/x-amz-json-1.1\r\n\r\n"
    )
    piece = b"x" * 65536
    chunks = (b"%x\r\n%s\r\n" % (len(piece), piece) for _ in range(64))  # 4 MiB, never ended
    answer = _raw_exchange(sb, head, chunks)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    # No Content-Length and not chunked: an empty body, answered at once (here: unsigned).
    head = b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: TrentService.ListKeys\r\n\r\n"
    answer = _raw_exchange(sb, head, iter(()))
    assert answer.startswith(b"HTTP/1.1 400"), answer[:200]
    assert b"MissingAuthenticationToken" in answer  # the x-amzn-ErrorType header
