"""AWS's size limits, enforced before a body is held in memory: request, item, key policy."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from sandbox import errors
from sandbox.errors import ErrorResponse
from sandbox.wire import ApiRequest

# DynamoDB: "The total request size exceeds 16 MB" refuses a BatchWriteItem (its largest request).
DYNAMODB_REQUEST_BYTES = 16 * 1024 * 1024
# KMS, IAM and STS document per-field limits only (Plaintext 4 KB, key policy 32 KB, policy
# documents 6-10 KB); one MiB holds any valid request of theirs many times over.
OTHER_REQUEST_BYTES = 1024 * 1024
ITEM_BYTES = 400 * 1024
KEY_POLICY_BYTES = 32 * 1024
_CHUNK = 64 * 1024


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


def request_limit(service: str) -> int:
    return DYNAMODB_REQUEST_BYTES if service == "dynamodb" else OTHER_REQUEST_BYTES


def declared_length(environ: Mapping[str, Any]) -> int | None:
    """The Content-Length header, or None when absent or not a number."""
    text = str(environ.get("CONTENT_LENGTH") or "").strip()
    return int(text) if text.isdigit() else None


def read_bounded(stream: Readable, length: int | None, limit: int) -> bytes | None:
    """Read at most `limit` bytes; None when the body is longer (the rest stays unread)."""
    want = limit + 1 if length is None else length
    if want > limit:
        want = limit + 1
    chunks: list[bytes] = []
    got = 0
    while got < want:
        chunk = stream.read(min(_CHUNK, want - got))
        if not chunk:
            break
        chunks.append(chunk)
        got += len(chunk)
    if got > limit:
        return None
    return b"".join(chunks)


def discard(stream: Readable, length: int, cap: int) -> None:
    """Read and drop up to `cap` bytes, so that a client still sending can read our answer."""
    left = min(length, cap)
    while left > 0:
        chunk = stream.read(min(_CHUNK, left))
        if not chunk:
            return
        left -= len(chunk)


def too_large(request: ApiRequest, limit: int) -> ErrorResponse:
    message = f"Request size exceeds the maximum of {limit} bytes for {request.service or 'this'}"
    if request.protocol == "query":
        return errors.query_error(request.service, "RequestEntityTooLarge", message, 413)
    return errors.json_error(request.service, "RequestEntityTooLarge", message, 413)


# ------------------------------------------------------------------ DynamoDB item size


def _value_size(value: Any) -> int:
    """Bytes of one AttributeValue, by DynamoDB's rules (UTF-8 strings, numbers ~ digits/2+1)."""
    if not isinstance(value, Mapping) or len(value) != 1:
        return 0
    ((kind, inner),) = value.items()
    if kind == "S" and isinstance(inner, str):
        return len(inner.encode("utf-8"))
    if kind == "N" and isinstance(inner, str):
        return len(inner.strip("-").replace(".", "").lstrip("0")) // 2 + 1
    if kind == "B" and isinstance(inner, str):
        return _blob_size(inner)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind in ("SS", "NS", "BS") and isinstance(inner, list):
        single = {"SS": "S", "NS": "N", "BS": "B"}[kind]
        return sum(_value_size({single: v}) for v in inner)
    if kind == "L" and isinstance(inner, list):
        return 3 + sum(1 + _value_size(v) for v in inner)
    if kind == "M" and isinstance(inner, Mapping):
        return 3 + sum(1 + len(str(k).encode("utf-8")) + _value_size(v) for k, v in inner.items())
    return 0


def _blob_size(text: str) -> int:
    try:
        return len(base64.b64decode(text, validate=False))
    except (binascii.Error, ValueError):
        return len(text)


def item_size(item: Any) -> int:
    if not isinstance(item, Mapping):
        return 0
    return sum(len(str(name).encode("utf-8")) + _value_size(v) for name, v in item.items())


def _items_written(request: ApiRequest) -> Iterable[Any]:
    params, action = request.params, request.action
    if action == "PutItem":
        yield params.get("Item")
    elif action == "BatchWriteItem" and isinstance(params.get("RequestItems"), Mapping):
        for writes in params["RequestItems"].values():
            for write in writes if isinstance(writes, list) else []:
                put = write.get("PutRequest") if isinstance(write, Mapping) else None
                if isinstance(put, Mapping):
                    yield put.get("Item")
    elif action == "TransactWriteItems" and isinstance(params.get("TransactItems"), list):
        for entry in params["TransactItems"]:
            put = entry.get("Put") if isinstance(entry, Mapping) else None
            if isinstance(put, Mapping):
                yield put.get("Item")


def oversized_item(request: ApiRequest) -> ErrorResponse | None:
    if request.service != "dynamodb":
        return None
    for item in _items_written(request):
        if item_size(item) > ITEM_BYTES:
            message = "Item size has exceeded the maximum allowed size"
            return errors.json_error("dynamodb", "ValidationException", message)
    return None


def oversized_key_policy(request: ApiRequest) -> ErrorResponse | None:
    if request.service != "kms" or request.action not in ("CreateKey", "PutKeyPolicy"):
        return None
    policy = request.params.get("Policy")
    if isinstance(policy, str) and len(policy.encode("utf-8")) > KEY_POLICY_BYTES:
        size = len(policy.encode("utf-8"))
        message = f"The key policy is {size} bytes; the key policy size limit is {KEY_POLICY_BYTES}"
        return errors.json_error("kms", "LimitExceededException", message)
    return None


def enforce_item_limit_in_moto() -> None:
    """400 KB counted as DynamoDB counts, for items grown by `UpdateItem` too, in linear time.

    moto checks every attribute it sets against 405,000 bytes of values only, summing the whole
    item each time: quadratic in the attributes (2,000 tiny ones took a second, under the lock),
    and not DynamoDB's count. Whole items are checked where moto stores them (and PutItem and
    batch writes by the layer before moto sees them); an update is checked once, after it is
    applied, and undone.
    """
    import copy

    from moto.dynamodb.exceptions import ItemSizeTooLarge, ItemSizeToUpdateTooLarge
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import LimitedSizeDict
    from moto.dynamodb.models.table import Table

    LimitedSizeDict.__setitem__ = dict.__setitem__  # type: ignore[method-assign]
    put_item = Table.put_item

    def checked_put_item(self: Any, item_attrs: dict[str, Any], *args: Any, **kw: Any) -> Any:
        # Every whole-item write lands here: PartiQL INSERT and UPDATE too, not only PutItem.
        if item_size({k: _plain(v) for k, v in item_attrs.items()}) > ITEM_BYTES:
            raise ItemSizeTooLarge
        return put_item(self, item_attrs, *args, **kw)

    Table.put_item = checked_put_item  # type: ignore[method-assign]
    update_item = DynamoDBBackend.update_item

    def checked_update_item(self: Any, table_name: str, key: Any, *args: Any, **kw: Any) -> Any:
        table = self.get_table(table_name)
        try:
            hash_value, range_value = self.get_keys_value(table, key)
        except Exception:  # moto's own call refuses the key in its words
            return update_item(self, table_name, key, *args, **kw)
        before = copy.deepcopy(table.get_item(hash_value, range_value))
        item = update_item(self, table_name, key, *args, **kw)
        if item_size({k: _plain(v) for k, v in item.attrs.items()}) <= ITEM_BYTES:
            return item
        if before is None:
            table.delete_item(hash_value, range_value)
        elif range_value is not None:
            table.items[hash_value][range_value] = before
        else:
            table.items[hash_value] = before
        raise ItemSizeToUpdateTooLarge()

    DynamoDBBackend.update_item = checked_update_item  # type: ignore[method-assign]


def _plain(value: Any) -> Any:
    """moto's stored attribute (DynamoType, bytes, nested) as the wire's JSON form."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    if isinstance(value, DynamoType):
        return {value.type: _plain(value.value)}
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value
