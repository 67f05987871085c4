"""Which optional extra of the distribution a command needs, and the one line saying so."""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping, Sequence

DISTRIBUTION = "kmsguard"

# The modules each extra of pyproject.toml provides (import names, not distribution names); a
# test keeps this table and the extras' requirements in step.
_PREVIEW = (
    "pulumi",
    "pulumi_aws",
    "pulumi_policy",
    "grpc",
    "google.protobuf",
    "yaml",
    "sarif_pydantic",
    "jsonschema",
    "pathspec",
)
EXTRAS: Mapping[str, Sequence[str]] = {
    "sarif": ("sarif_pydantic",),
    "pulumi": ("pulumi", "pulumi_aws"),
    "preview": _PREVIEW,
    # kmsguard.audit drives the pack through kmsguard.preview's analyzer: preview's modules too.
    "audit": ("boto3", "botocore", *_PREVIEW),
}


def _absent(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is None
    except (ImportError, ValueError):
        # A parent package that is missing or broken: the module cannot be imported either.
        return True


def missing(extra: str) -> list[str]:
    """The modules of `extra` that this interpreter cannot import."""
    return [m for m in EXTRAS[extra] if _absent(m)]


def install_command(extra: str) -> str:
    return f"pip install '{DISTRIBUTION}[{extra}]'"


def message(command: str, extra: str, absent: Sequence[str]) -> str:
    """One line: what is missing, for which command, and the command that installs it."""
    return (
        f"{command} needs the {extra!r} extra (missing: {', '.join(absent)}); install it "
        f"into this environment: {install_command(extra)}"
    )


def problem(command: str, extra: str) -> str | None:
    """The one-line message when `extra` is not installed, else None."""
    absent = missing(extra)
    return message(command, extra, absent) if absent else None
