"""Key rotation periods, which moto ignores: validated, remembered and reported as AWS does."""

from __future__ import annotations

import json

from sandbox import errors
from sandbox.errors import ErrorResponse
from sandbox.keys import find_key
from sandbox.wire import ApiRequest

DEFAULT_PERIOD_DAYS = 365
PERIOD_RANGE = (90, 2560)


class RotationPeriods:
    """Per-key `RotationPeriodInDays` of EnableKeyRotation, added to GetKeyRotationStatus."""

    def __init__(self) -> None:
        self._days: dict[str, int] = {}

    def snapshot(self) -> dict[str, int]:
        return dict(self._days)

    def restore(self, days: dict[str, int]) -> None:
        self._days = dict(days)

    def refuse(self, request: ApiRequest) -> ErrorResponse | None:
        if request.action != "EnableKeyRotation":
            return None
        days = request.params.get("RotationPeriodInDays")
        if days is None:
            return None
        low, high = PERIOD_RANGE
        if not isinstance(days, int) or isinstance(days, bool) or not low <= days <= high:
            message = (
                f"1 validation error detected: Value '{days}' at 'rotationPeriodInDays' failed "
                f"to satisfy constraint: Member must have value between {low} and {high}"
            )
            return errors.json_error("kms", "ValidationException", message)
        return None

    def after(self, request: ApiRequest, body: bytes) -> bytes:
        """Record a successful EnableKeyRotation; complete a GetKeyRotationStatus answer."""
        key = find_key(request.region, request.params.get("KeyId"))
        if key is None:
            return body
        if request.action == "EnableKeyRotation":
            days = request.params.get("RotationPeriodInDays")
            self._days[key.arn] = days if isinstance(days, int) else DEFAULT_PERIOD_DAYS
            return body
        if request.action != "GetKeyRotationStatus":
            return body
        try:
            answer = json.loads(body)
        except ValueError:
            return body
        answer.setdefault("KeyId", key.arn)
        if answer.get("KeyRotationEnabled"):
            answer["RotationPeriodInDays"] = self._days.get(key.arn, DEFAULT_PERIOD_DAYS)
        return json.dumps(answer).encode("utf-8")
