"""AWS resource names as the product meets them: parsed once, with the account each one names."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TypeGuard

# arn:partition:service:region:account:resource; the resource may itself hold colons
# (`table/t/stream/2024-01-01T00:00:00.000`), so only the first five separate fields.
_FIELDS = 6
_ACCOUNT = re.compile(r"[0-9]{12}")
_IN_TEXT = re.compile(r"(?<![0-9])[0-9]{12}(?![0-9])")
_PARTITION = re.compile(r"aws(?:-[a-z]+)*")
_SERVICE = re.compile(r"[a-z0-9-]+")
_REGION = re.compile(r"[a-z0-9-]*")
# Key ids are UUIDs, or `mrk-` and 32 hex digits for multi-Region keys; both are [\w-].
_KEY_ID = re.compile(r"[A-Za-z0-9_-]+")
# IAM's characters for user, role, group and policy names and path segments.
_IAM_NAME = re.compile(r"[\w+=,.@-]+")
# No ARN AWS issues holds whitespace or control characters.
_RESOURCE = re.compile(r"[^\s\x00-\x1f\x7f]+")
_MAX_ARN = 2048  # IAM's limit on an ARN's length; longer text names nothing AWS issues
# An AWS service principal: `dynamodb.amazonaws.com`, in China `<service>.amazonaws.com.cn`.
# "The alias name for a customer managed key cannot begin with alias/aws/. The alias/aws/
# prefix is reserved for AWS managed key." (CreateAlias); compared as written.
RESERVED_ALIAS_PREFIX = "alias/aws/"
_SERVICE_PRINCIPAL = re.compile(r"[a-z0-9.-]+\.amazonaws\.com(?:\.cn)?")


@dataclass(frozen=True)
class Arn:
    """One ARN's fields as written."""

    partition: str
    service: str
    region: str
    account: str  # "" for ARNs without one (S3 buckets), `aws` for AWS managed policies
    resource: str

    @property
    def resource_type(self) -> str:
        """The resource's first segment: `user`, `role`, `key`, `alias`, `table`, `root`..."""
        return re.split(r"[/:]", self.resource, maxsplit=1)[0]

    @property
    def resource_path(self) -> str:
        """What follows the resource type: a key's id, `t/index/i` for a table's index, an
        alias's name after `alias/`, a user's path and name."""
        return self.resource[len(self.resource_type) + 1 :]

    @property
    def is_account_root(self) -> bool:
        return self.service == "iam" and self.resource == "root" and bool(self.account)

    @property
    def is_key(self) -> bool:
        """A KMS key ARN (`key/<id>`), as KMS issues them: partition, region and account set."""
        return (
            self.service == "kms"
            and bool(self.region)
            and bool(_ACCOUNT.fullmatch(self.account))
            and self.resource.startswith("key/")
            and bool(_KEY_ID.fullmatch(self.resource[4:]))
        )

    @property
    def is_alias(self) -> bool:
        return self.service == "kms" and self.resource.startswith("alias/")

    def __str__(self) -> str:
        return f"arn:{self.partition}:{self.service}:{self.region}:{self.account}:{self.resource}"


def arn_fields(text: str) -> list[str] | None:
    """The six colon-separated fields of an ARN or ARN pattern as written (wildcards kept, the
    first field unchecked: a pattern may glob it), or None when there are fewer.

    Patterns in policies (`arn:aws:kms:*:111122223333:key/*`) are matched field by field; this
    is the one place that splits them.
    """
    parts = text.split(":", _FIELDS - 1)
    return parts if len(parts) == _FIELDS else None


def parse_arn(text: object) -> Arn | None:
    """The ARN's fields, or None when `text` is not an ARN (service principals, ids, names).

    Linear in the text and bounded by IAM's ARN length, so attacker-written policies cannot make
    it slow.
    """
    if not isinstance(text, str) or len(text) > _MAX_ARN or not text.startswith("arn:"):
        return None
    parts = arn_fields(text)
    if parts is None:
        return None
    _, partition, service, region, account, resource = parts
    if not _PARTITION.fullmatch(partition) or not _SERVICE.fullmatch(service):
        return None
    # AWS managed policies name the account `aws`; a few ARNs (S3) name none.
    if not _REGION.fullmatch(region) or not (account in ("", "aws") or _ACCOUNT.fullmatch(account)):
        # Wildcards in the account field are patterns, not names: they own no account.
        return None
    if not _RESOURCE.fullmatch(resource):
        return None
    return Arn(partition, service, region, account, resource)


def named_accounts(text: str) -> list[str]:
    """Every 12-digit account id written in `text` (an ARN's, a bare principal's, a condition
    value's), in order of appearance; linear in the text."""
    return _IN_TEXT.findall(text)


def is_account_id(text: object) -> TypeGuard[str]:
    return isinstance(text, str) and bool(_ACCOUNT.fullmatch(text))


def account_of(text: object) -> str | None:
    """The account an ARN (or a bare 12-digit account id, as principals may be written) names."""
    if is_account_id(text):
        return text
    arn = parse_arn(text)
    return arn.account if arn is not None and is_account_id(arn.account) else None


def is_service_principal(text: object) -> TypeGuard[str]:
    """An AWS service principal (`dynamodb.amazonaws.com`, `<service>.amazonaws.com.cn`)."""
    return (
        isinstance(text, str) and len(text) <= _MAX_ARN and bool(_SERVICE_PRINCIPAL.fullmatch(text))
    )


def is_account_arn(text: object) -> TypeGuard[str]:
    """An ARN naming a 12-digit account: what a caller or a grantee may be."""
    arn = parse_arn(text)
    return arn is not None and is_account_id(arn.account)


def is_iam_principal_arn(text: object) -> TypeGuard[str]:
    """An IAM or STS principal's ARN (`arn:aws:iam::<account>:...`, no region)."""
    arn = parse_arn(text)
    return (
        arn is not None
        and arn.service in ("iam", "sts")
        and not arn.region
        and is_account_id(arn.account)
    )


def is_key_arn(text: object) -> TypeGuard[str]:
    """A KMS key ARN: `arn:<partition>:kms:<region>:<12-digit account>:key/<key id>`."""
    arn = parse_arn(text)
    return arn is not None and arn.is_key


def session_role(text: object) -> str | None:
    """The role ARN an assumed-role session ARN (`...:assumed-role/<role>/<session>`) acts as."""
    arn = parse_arn(text)
    if arn is None or arn.service != "sts" or arn.resource_type != "assumed-role":
        return None
    role, _, session = arn.resource_path.partition("/")
    if not role or not session:
        return None
    return str(Arn(arn.partition, "iam", "", arn.account, f"role/{role}"))


def iam_identity(text: object) -> tuple[str, str, str] | None:
    """(kind, account, name) of an IAM user or role ARN (paths allowed), else None."""
    arn = parse_arn(text)
    if arn is None or arn.service != "iam" or arn.region or not is_account_id(arn.account):
        return None
    kind, _, rest = arn.resource.partition("/")
    segments = rest.split("/")
    if kind not in ("user", "role") or not all(_IAM_NAME.fullmatch(s) for s in segments):
        return None
    return kind, arn.account, segments[-1]


def managed_policy_name(text: object) -> str | None:
    """The name of an AWS managed policy ARN (`arn:aws:iam::aws:policy/<path/>name`), else None."""
    arn = parse_arn(text)
    if arn is None or arn.service != "iam" or arn.region or arn.account != "aws":
        return None
    kind, _, rest = arn.resource.partition("/")
    path, _, name = rest.rpartition("/")
    if kind != "policy" or not _IAM_NAME.fullmatch(name):
        return None
    return name if all(_IAM_NAME.fullmatch(s) for s in path.split("/") if s) else None


def key_account(identifiers: tuple[object, ...] | list[object], deploying: str = "") -> str:
    """The account that owns a key, or "" when nobody knows it.

    The first of the key's identifiers (its ARN, a key ARN used as `keyId`) that is an ARN
    names it; else the account the provider deploys to (`deploying`, "" when the provider does
    not say). Never an account a policy names: a policy may name any account, its own or not.
    """
    for value in identifiers:
        arn = parse_arn(value)
        if arn is not None and arn.service == "kms" and is_account_id(arn.account):
            return arn.account
    return deploying if is_account_id(deploying) else ""


def is_alias_reference(text: object) -> TypeGuard[str]:
    """An alias name (`alias/<name>`) or an alias ARN (`...:<account>:alias/<name>`)."""
    if not isinstance(text, str):
        return False
    if text.startswith("alias/"):
        return True
    arn = parse_arn(text)
    return arn is not None and arn.is_alias


def is_reserved_alias(text: object) -> bool:
    """An alias name or alias ARN under `alias/aws/`, the prefix AWS keeps for its managed keys."""
    if not isinstance(text, str):
        return False
    arn = parse_arn(text)
    name = arn.resource if arn is not None and arn.is_alias else text
    return name.startswith(RESERVED_ALIAS_PREFIX)


def alias_arn(account: str, name: str, region: str, partition: str = "aws") -> str:
    """The ARN of alias `name` (`alias/<name>`) of `account` in `region`."""
    return str(Arn(partition, "kms", region, account, name))


def key_arn(account: str, key_id: str, region: str, partition: str = "aws") -> str:
    """The ARN KMS gives key `key_id` of `account` in `region`."""
    return str(Arn(partition, "kms", region, account, f"key/{key_id}"))


def table_arn(account: str, name: str, region: str, partition: str = "aws") -> str:
    """The ARN DynamoDB gives table `name` of `account` in `region`."""
    return str(Arn(partition, "dynamodb", region, account, f"table/{name}"))


def table_path(text: str, account: str, region: str, partition: str = "aws") -> str | None:
    """What follows `table/` in a DynamoDB table ARN of `account` in `region` (a table's name,
    or `<name>/index/<index>`, `<name>/stream/<label>`, unchecked); None for any other text."""
    parts = arn_fields(text) if text.startswith("arn:") else None
    if parts is None or parts[1:5] != [partition, "dynamodb", region, account]:
        return None
    return parts[5][len("table/") :] if parts[5].startswith("table/") else None


def iam_arn(account: str, resource: str, partition: str = "aws") -> str:
    """The ARN of IAM resource `resource` (`user/<name>`, `role/<path><name>`...) of `account`."""
    return str(Arn(partition, "iam", "", account, resource))
