"""Fixed, documented constants of the sandbox: admin credentials, port, account, region."""

from __future__ import annotations

from typing import Final

# Well-known local credentials of the admin identity (acts as the account root). They are not
# secret: the sandbox only listens on loopback and holds no real data.
ADMIN_ACCESS_KEY_ID: Final = "AKIAKMSGUARDSANDBOX1"
ADMIN_SECRET_ACCESS_KEY: Final = "kmsguard-sandbox-admin-secret-not-a-secret"

DEFAULT_HOST: Final = "127.0.0.1"
DEFAULT_PORT: Final = 4599
DEFAULT_REGION: Final = "us-east-1"
# moto's default account; every identity of the sandbox lives in it.
ACCOUNT_ID: Final = "123456789012"

# Services whose requests the authorization layer understands (signing names).
SERVICES: Final = ("dynamodb", "kms", "iam", "sts")

# First line the `serve` command prints; the Python API waits for it.
READY_PREFIX: Final = "kmsguard sandbox listening on "
