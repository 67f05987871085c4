"""Entry point the Pulumi CLI (and `python -m pulumi.policy`) runs: serve the kmsguard pack."""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a directory by runpy, only policies/ is on sys.path; the pack's own modules are
# imported as `policies.*`, so the repository root must be importable too.
_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from pulumi_policy import EnforcementLevel, PolicyPack  # noqa: E402

from policies.meta import PACK_NAME  # noqa: E402
from policies.rules import POLICIES  # noqa: E402

PolicyPack(
    name=PACK_NAME,
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=POLICIES,
    description="KMS customer managed keys guarding DynamoDB tables, and who can use them.",
    provider="aws",
    tags=["kms", "dynamodb", "iam"],
)
