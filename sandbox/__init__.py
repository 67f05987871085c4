"""Local AWS sandbox (moto's DynamoDB, KMS, IAM, STS) that enforces identity and key policies.

Why: moto ignores key policies and never asks KMS when DynamoDB reads a table encrypted with a
customer managed key; LocalStack's IAM enforcement is paid. This package serves moto on loopback
behind a WSGI layer that authorizes every request with `kmsguard.access`, so that denied and
granted behaviour of the kmsguard scenario is real.

Python API (tests, demo)::

    from sandbox import running

    with running() as sb:                 # child process on a free 127.0.0.1 port
        ddb = sb.client("dynamodb")       # admin (account root) credentials
        user_ddb = sb.client("dynamodb", access_key_id=..., secret_access_key=...)

`running(region="us-east-1", *, startup_timeout=60.0, verbose=False)` yields a frozen
`SandboxInfo(endpoint_url, region, account_id, admin_access_key_id, admin_secret_access_key)`
with `.client(service, access_key_id=None, secret_access_key=None, session_token=None)`,
`.session(...)` and `.environment()`. Every sandbox is its own process, so state is isolated per
instance; the process is terminated when the `with` block ends, also on exceptions.

Command line::

    python -m sandbox serve [--host 127.0.0.1] [--port 4599] [--region us-east-1]
                            [--allow-non-loopback] [--verbose]

prints the endpoint, region and admin credentials, then serves until Ctrl-C / SIGTERM (exit 0).
Port 4599 is the fixed default (`Pulumi.sandbox.yaml` points at it); `--port 0` picks a free one.
Non-loopback hosts are refused unless `--allow-non-loopback` is given (then it serves with a
warning on stderr). Bad arguments are one line on stderr, exit 2; a busy port is exit 1.

Identities:

* Admin: access key `AKIAKMSGUARDSANDBOX1`, secret `kmsguard-sandbox-admin-secret-not-a-secret`
  (`sandbox.settings`). It acts as `arn:aws:iam::123456789012:root`: every IAM, STS and
  DynamoDB call is allowed; KMS key operations still need the key policy (as for the real
  root), so a key policy without the root statement can lock it out, exactly like AWS.
* Access keys created through the sandbox's IAM act as their user (inline, attached managed
  and group policies; AWS managed policies are moto's copies of the real documents).
  `sts:AssumeRole` credentials act as the role session (the role's policies).

Authorization per request: the service action on its resource (table ARN, key ARN, IAM entity
ARN) with the identity policies and, for KMS, the key policy; DynamoDB item operations
(Put/Get/Query/Scan/Update/Delete, batch and transact forms) on a table encrypted with a KMS
key additionally need `kms:Decrypt` on that key, evaluated with `kms:ViaService =
dynamodb.<region>.amazonaws.com` and `kms:CallerAccount`; a disabled or pending-deletion key
makes the table inaccessible. Key policies sent with CreateKey/PutKeyPolicy are validated
(MalformedPolicyDocumentException) and the lockout safety check applies. Where moto falls short
of AWS the layer fills in: `RotationPeriodInDays` (90-2560) is kept and reported by
GetKeyRotationStatus, PartiQL statements need the table key like item operations, moto's own
principal-blind key-policy check is switched off, and `sts:GetCallerIdentity` of the admin
answers the account root.

Limits: the access key id is looked up but signatures are not verified (local emulator, not a
security boundary); permission boundaries, SCPs, session policies and KMS grants are not
evaluated; CreateTable does not check the creator's access to the key; IAM resource ARNs are
derived from UserName/RoleName/GroupName/PolicyArn (else "*"); requests are serialized (moto's
backends are not thread-safe); the moto management API (/moto-api) is not exposed.
"""

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
