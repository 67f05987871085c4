"""Local AWS sandbox: moto behind an authorization layer that enforces IAM and key policies."""

from sandbox.process import SandboxInfo, SandboxStartError, running
from sandbox.settings import (
    ACCOUNT_ID,
    ADMIN_ACCESS_KEY_ID,
    ADMIN_SECRET_ACCESS_KEY,
    DEFAULT_HOST,
    DEFAULT_PORT,
    DEFAULT_REGION,
)

__all__ = [
    "ACCOUNT_ID",
    "ADMIN_ACCESS_KEY_ID",
    "ADMIN_SECRET_ACCESS_KEY",
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "DEFAULT_REGION",
    "SandboxInfo",
    "SandboxStartError",
    "running",
]
