"""The layout CONTRIBUTING.md describes: tests mirror the packages, and modules stay small."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PRODUCT = ("kmsguard", "policies", "sandbox", "verification", "demo", "provider")

# Each package and where its tests live (the prover's are tests/access/test_prove*.py; the
# component provider's, with the component's, in tests/component).
MIRROR = {
    "kmsguard": "tests/kmsguard",
    "kmsguard/access": "tests/access",
    "kmsguard/access/prove": "tests/access",
    "kmsguard/preview": "tests/preview",
    "kmsguard/audit": "tests/audit",
    "policies": "tests/policies",
    "policies/rules": "tests/policies/rules",
    "policies/stack": "tests/policies",
    "sandbox": "tests/sandbox",
    "sandbox/services": "tests/sandbox",
    "verification": "tests/verification",
    "demo": "tests/demo",
    "provider": "tests/component",
}

MAX_LINES = 350
# Modules above it today, each one to split along its seams; a module leaves the list when it
# is split, and no other may join it.
LARGE = frozenset(
    {
        "kmsguard/access/conditions.py",
        "kmsguard/access/evaluate.py",
        "kmsguard/access/logic.py",
        "kmsguard/access/matching.py",
    }
)


def _modules() -> dict[str, int]:
    return {
        p.relative_to(ROOT).as_posix(): len(p.read_text(encoding="utf-8").splitlines())
        for package in PRODUCT
        for p in (ROOT / package).rglob("*.py")
        if "venv" not in p.relative_to(ROOT).parts
    }


def test_every_package_has_its_tests_where_the_mirror_says() -> None:
    packages = {
        p.parent.relative_to(ROOT).as_posix()
        for package in PRODUCT
        for p in (ROOT / package).rglob("__init__.py")
        if "venv" not in p.relative_to(ROOT).parts
    } | {"provider"}
    assert sorted(packages - set(MIRROR)) == [], "say in MIRROR where the package's tests live"
    assert sorted(set(MIRROR) - packages) == []
    empty = [t for t in set(MIRROR.values()) if not list((ROOT / t).glob("test_*.py"))]
    assert empty == []


def test_no_module_outgrows_the_limit_unless_listed_to_be_split() -> None:
    sizes = _modules()
    too_large = sorted(f"{m}: {n}" for m, n in sizes.items() if n > MAX_LINES and m not in LARGE)
    assert too_large == [], f"split these along their seams (at most {MAX_LINES} lines)"
    # A split module leaves the list, so that the list says what is still to do.
    done = sorted(m for m in LARGE if sizes.get(m, 0) <= MAX_LINES)
    assert done == [], "remove these from LARGE: split, or gone"
