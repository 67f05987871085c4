"""Entry point the Pulumi CLI (and `python -m pulumi.policy`) runs: serve the kmsguard pack."""

from __future__ import annotations

import gc
import importlib.metadata
import importlib.util
import re
import sys
from pathlib import Path

PACK_DIR = Path(__file__).resolve().parent
PACKAGE = "policies"


def missing_requirements(pack_dir: Path = PACK_DIR) -> list[str]:
    """The requirements.txt distributions whose top-level module cannot be found."""
    missing = []
    for line in (pack_dir / "requirements.txt").read_text(encoding="utf-8").splitlines():
        name = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", line.split("#", 1)[0])
        if name and not _installed(name.group(1)):
            missing.append(name.group(1))
    return missing


def _installed(distribution: str) -> bool:
    """Installed, or importable under its own name (a checkout on the path): a distribution's
    module may be named otherwise (`protobuf` installs `google.protobuf`)."""
    try:
        importlib.metadata.distribution(distribution)
        return True
    except importlib.metadata.PackageNotFoundError:
        return importlib.util.find_spec(distribution.replace("-", "_").lower()) is not None


def load_pack_package(pack_dir: Path = PACK_DIR) -> None:
    """Import this directory as the `policies` package, wherever it was unpacked.

    The CLI runs this file with only the pack directory on sys.path, and the service unpacks
    the pack under a directory of its own naming; the rule modules import each other as
    `policies.*`, so the package is loaded from this directory by location, which also keeps
    any other `policies` module on the path from being picked up instead.
    """
    spec = importlib.util.spec_from_file_location(
        PACKAGE, pack_dir / "__init__.py", submodule_search_locations=[str(pack_dir)]
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[PACKAGE] = module
    spec.loader.exec_module(module)


def preload() -> None:
    """Load what the rules would otherwise load inside the engine's first Analyze calls.

    The prover (z3), the IAM action catalog and the AWS managed policy documents are read once
    per process either way; read here, while the engine waits for the pack to start, no
    Analyze call pays for them.
    """
    import kmsguard.access.prove
    import kmsguard.access.prove.table_access
    import kmsguard.access.trust  # noqa: F401
    from kmsguard.access.catalog import catalog
    from policies.managed import all_managed_policy_names, known_decrypt_on_all_keys
    from policies.rules.kms_key_policy_least_privilege import admin_only_actions, all_kms_actions

    catalog()
    all_managed_policy_names()
    known_decrypt_on_all_keys()
    admin_only_actions()
    all_kms_actions()


def main() -> None:
    missing = missing_requirements()
    if missing:
        # SystemExit passes through the SDK's runner, which would print a traceback otherwise.
        sys.stderr.write(
            f"kmsguard policy pack: missing Python package(s): {', '.join(missing)}.\n"
            f"Install the pack's requirements into the Python that runs it ({sys.executable}):\n"
            f"  {sys.executable} -m pip install -r {PACK_DIR / 'requirements.txt'}\n"
        )
        sys.stderr.flush()
        raise SystemExit(1)
    # The imports and the preload build some 85,000 long-lived objects (the prover, the IAM
    # catalog) and almost no garbage: collecting meanwhile is an eighth of the start's CPU.
    # Frozen once built, no later collection walks them again (the few hundred objects of
    # cycles the imports dropped stay with them).
    gc.disable()
    try:
        load_pack_package()
        preload()
    finally:
        gc.freeze()
        gc.enable()
    # AnalyzeStack builds a few objects per property of every resource; with the default
    # threshold (700) the collector runs so often over that growing heap that the time per
    # resource rises with the stack's size. A larger young generation keeps the pack linear.
    gc.set_threshold(50_000, 10, 10)

    from pulumi_policy import EnforcementLevel, PolicyPack

    from policies import servicer
    from policies.meta import PACK_NAME
    from policies.rules import POLICIES

    servicer.install()

    PolicyPack(
        name=PACK_NAME,
        enforcement_level=EnforcementLevel.MANDATORY,
        policies=POLICIES,
        description="KMS customer managed keys guarding DynamoDB tables, and who can use them.",
        provider="aws",
        tags=["kms", "dynamodb", "iam"],
    )


if __name__ == "__main__":
    main()
