"""KMS grants in ListGrants shape: their grantee, operations and encryption-context constraints."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kmsguard.access.arn import is_iam_principal_arn, is_service_principal
from kmsguard.access.errors import PolicyDocumentError
from kmsguard.access.matching import PrincipalInfo, principal_info
from kmsguard.access.names import fold_principal

# The operations a grant may list (KMS CreateGrant's GrantOperation values).
GRANT_OPERATIONS = (
    "Decrypt",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "ReEncryptFrom",
    "ReEncryptTo",
    "Sign",
    "Verify",
    "GetPublicKey",
    "CreateGrant",
    "RetireGrant",
    "DescribeKey",
    "GenerateMac",
    "VerifyMac",
    "DeriveSharedSecret",
)
_GRANT_KEYS = (
    "GrantId",
    "GranteePrincipal",
    "Operations",
    "Constraints",
    "KeyId",
    "RetiringPrincipal",
    "IssuingAccount",
    "Name",
    "CreationDate",
)
_SPELLED = {op.lower(): op for op in GRANT_OPERATIONS}
_CONSTRAINT_KEYS = ("EncryptionContextSubset", "EncryptionContextEquals")

# How a grant's grantee relates to the caller.
GRANTEE_DIRECT = "direct"  # the caller itself (user, session, service, account root)
GRANTEE_ROLE = "role"  # the role whose session is calling
GRANTEE_ACCOUNT = "account"  # the caller's account: its IAM policies decide


@dataclass(frozen=True, slots=True)
class Grant:
    """One validated grant; `operations` are IAM action names in lower case (`kms:decrypt`)."""

    grant_id: str
    grantee: str
    operations: frozenset[str]
    subset: tuple[tuple[str, str], ...] | None
    equals: tuple[tuple[str, str], ...] | None
    key_id: str | None
    retiring: str | None
    name: str | None

    @property
    def short_id(self) -> str:
        return f"{self.grant_id[:8]}…" if len(self.grant_id) > 10 else self.grant_id

    @property
    def for_aws_resource(self) -> bool:
        """A grant an AWS service holds for a resource it manages (DynamoDB's table grant)."""
        return principal_info(self.grantee).kind == "service"

    def applies_to_key(self, resource: str) -> bool:
        if not self.key_id:
            return True
        return resource == self.key_id or resource.endswith(f":key/{self.key_id}")

    def grantee_match(self, principal: str, info: PrincipalInfo) -> str | None:
        grantee = principal_info(self.grantee)
        if fold_principal(self.grantee) == fold_principal(principal):
            return GRANTEE_DIRECT
        if (
            info.kind == "assumed-role"
            and grantee.kind == "role"
            and info.role_key is not None
            and grantee.role_key is not None
            and info.role_key[0] == grantee.role_key[0]
            and info.role_key[1].lower() == grantee.role_key[1].lower()
        ):
            return GRANTEE_ROLE
        if grantee.kind == "root" and info.account is not None and grantee.account == info.account:
            return GRANTEE_ACCOUNT
        return None

    def constraints_hold(self, context: Mapping[str, str] | None) -> bool:
        """KMS compares encryption context keys and values exactly (case-sensitive)."""
        ec = context or {}
        if self.subset is not None and any(ec.get(k) != v for k, v in self.subset):
            return False
        return self.equals is None or dict(self.equals) == dict(ec)

    def constraints_text(self) -> str:
        parts = []
        if self.subset is not None:
            parts.append(f"EncryptionContextSubset {dict(self.subset)}")
        if self.equals is not None:
            parts.append(f"EncryptionContextEquals {dict(self.equals)}")
        return ", ".join(parts) or "no constraints"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "GrantId": self.grant_id,
            "GranteePrincipal": self.grantee,
            # As ListGrants spells them, so that the shape parses back (parse_grant).
            "Operations": sorted(_SPELLED[op.split(":", 1)[1]] for op in self.operations),
        }
        constraints = {}
        if self.subset is not None:
            constraints["EncryptionContextSubset"] = dict(self.subset)
        if self.equals is not None:
            constraints["EncryptionContextEquals"] = dict(self.equals)
        if constraints:
            out["Constraints"] = constraints
        return out


_OPS = {op.lower(): op for op in GRANT_OPERATIONS}


def parse_grant(raw: Any, label: str = "grant") -> Grant:
    """Validate one grant (a ListGrants entry); raise PolicyDocumentError naming label and path."""

    def bad(path: str, message: str) -> PolicyDocumentError:
        return PolicyDocumentError(path, message, policy=label)

    if isinstance(raw, Grant):
        return raw
    if not isinstance(raw, Mapping):
        raise bad("", "a grant must be an object in ListGrants shape")
    for key in raw:
        if key not in _GRANT_KEYS:
            raise bad(str(key), f"unknown grant key {key!r}; allowed: {', '.join(_GRANT_KEYS)}")
    gid = raw.get("GrantId")
    if not isinstance(gid, str) or not gid:
        raise bad("GrantId", "missing; a grant needs its GrantId (a non-empty string)")
    grantee = raw.get("GranteePrincipal")
    if not (is_iam_principal_arn(grantee) or is_service_principal(grantee)):
        raise bad(
            "GranteePrincipal",
            f"{grantee!r} is not a principal; allowed: an IAM or STS ARN with a 12-digit account "
            "or a service principal (<service>.amazonaws.com)",
        )
    ops_raw = raw.get("Operations")
    if not isinstance(ops_raw, list) or not ops_raw:
        raise bad("Operations", "must be a non-empty list of grant operations")
    ops = set()
    for i, op in enumerate(ops_raw):
        if not isinstance(op, str) or op.lower() not in _OPS or _OPS[op.lower()] != op:
            raise bad(
                f"Operations[{i}]",
                f"{op!r} is not a grant operation; allowed: {', '.join(GRANT_OPERATIONS)}",
            )
        ops.add(f"kms:{op.lower()}")
    subset = equals = None
    constraints = raw.get("Constraints")
    if constraints is not None:
        if not isinstance(constraints, Mapping):
            raise bad("Constraints", "must be an object")
        for key, value in constraints.items():
            if key not in _CONSTRAINT_KEYS:
                raise bad(
                    f"Constraints.{key}",
                    f"unknown constraint; allowed: {', '.join(_CONSTRAINT_KEYS)}",
                )
            pairs = _pairs(value, f"Constraints.{key}", bad)
            if key == "EncryptionContextSubset":
                subset = pairs
            else:
                equals = pairs
    for key in ("KeyId", "RetiringPrincipal", "Name"):
        if raw.get(key) is not None and not isinstance(raw.get(key), str):
            raise bad(key, "must be a string")
    return Grant(
        gid,
        grantee,
        frozenset(ops),
        subset,
        equals,
        raw.get("KeyId") or None,
        raw.get("RetiringPrincipal") or None,
        raw.get("Name") or None,
    )


def _pairs(value: Any, path: str, bad: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, Mapping):
        raise bad(path, "must be an object of encryption context keys to string values")
    for k, v in value.items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise bad(f"{path}.{k}", "encryption context keys and values must be strings")
    return tuple(sorted(value.items()))


def encryption_context(context: Mapping[str, Any] | None) -> dict[str, str] | None:
    """The request's encryption context from `kms:EncryptionContext:<key>` entries, keys as given.

    None when the request carries none; the keys keep their case because KMS compares them exactly.
    """
    if not context:
        return None
    out = {}
    prefix = "kms:encryptioncontext:"
    for key, value in context.items():
        if isinstance(key, str) and key.lower().startswith(prefix) and isinstance(value, str):
            out[key[len(prefix) :]] = value
    return out or None
