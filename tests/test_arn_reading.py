"""ARNs are read by kmsguard/access/arn.py alone: no other module splits one on its colons."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.test_layout import PRODUCT

ROOT = Path(__file__).resolve().parents[1]
# Every product package (the layout's list, so that a new one is scanned too) and the program.
PACKAGES = PRODUCT
PROGRAM = "__main__.py"
READER = "kmsguard/access/arn.py"
SPLITS = frozenset({"split", "rsplit", "partition", "rpartition"})

# Colon-separated text that is not an ARN, by module and the expression split. Each entry says
# what the text is; anything else split on ":" outside the reader is an ARN read by hand.
NOT_ARNS: dict[tuple[str, str], str] = {
    ("kmsguard/access/catalog.py", "pattern"): "an action pattern, service:name",
    ("kmsguard/access/catalog.py", "action[:_SUGGEST_CHARS]"): "an action, service:name",
    ("kmsguard/access/catalog.py", "a"): "an action, service:name",
    ("kmsguard/access/catalog.py", "next(iter(every.values()))"): "an action, service:name",
    ("kmsguard/access/grants.py", "op"): "a grant operation as an action, kms:Name",
    ("kmsguard/preview/collect.py", "type_"): "a Pulumi type token, pkg:module:Type",
    ("kmsguard/preview/collect.py", "k"): "a stack config key, namespace:name",
    ("kmsguard/preview/unknowns.py", "token"): "a Pulumi function token, pkg:module/fn:fn",
    ("demo/engine.py", "args.typ"): "a Pulumi type token, pkg:module:Type",
    ("kmsguard/audit/judge.py", "r.type"): "a Pulumi type token, pkg:module:Type",
    ("policies/rules/_common.py", "args.resource_type"): "a Pulumi type token, pkg:module:Type",
    ("policies/stack/principals.py", "n.type"): "a Pulumi type token, pkg:module:Type",
    ("kmsguard/preview/analyzer.py", "ref"): "a Pulumi provider reference, urn::id",
}


def _colon(node: ast.expr) -> bool:
    # ":" itself, or an ARN's field boundary such as ":key/" or ":table/"
    return isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value[:1] == ":"


def _colon_pattern(node: ast.expr) -> bool:
    # A regular expression splitting on a colon: ":", r"[/:]", ":+"...
    return isinstance(node, ast.Constant) and isinstance(node.value, str) and ":" in node.value


def _splits_on_colon(tree: ast.AST) -> list[tuple[int, str]]:
    out = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        func, args = node.func, node.args
        if isinstance(func.value, ast.Name) and func.value.id == "re":
            # re.split(":", text): the text split is the second argument.
            if func.attr == "split" and len(args) > 1 and _colon_pattern(args[0]):
                out.append((node.lineno, ast.unparse(args[1])))
        elif isinstance(func.value, ast.Name) and func.value.id == "str":
            # str.split(text, ":")
            if func.attr in SPLITS and len(args) > 1 and _colon(args[1]):
                out.append((node.lineno, ast.unparse(args[0])))
        elif func.attr in SPLITS and args and _colon(args[0]):
            out.append((node.lineno, ast.unparse(func.value)))
    return out


def _arn_prefix(node: ast.expr) -> bool:
    """Text or an f-string beginning with more of an ARN than `arn:` (`arn:aws:iam::...`)."""
    if isinstance(node, ast.JoinedStr) and node.values:
        first = node.values[0]
        return (
            isinstance(first, ast.Constant)
            and isinstance(first.value, str)
            and first.value.startswith("arn:")
            and len(node.values) > 1
        )
    return (
        isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and node.value.startswith("arn:")
        and len(node.value) > len("arn:")
    )


def _prefix_comparisons(tree: ast.AST) -> list[tuple[int, str]]:
    """`text.startswith("arn:aws:...")`: an ARN's fields compared by hand, as a prefix."""
    return [
        (node.lineno, ast.unparse(node.func.value))
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("startswith", "removeprefix")
        and node.args
        and (
            _arn_prefix(node.args[0])
            or (isinstance(node.args[0], ast.Tuple) and any(map(_arn_prefix, node.args[0].elts)))
        )
    ]


def _modules() -> list[Path]:
    found = {p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py") if "venv" not in p.parts}
    return sorted(found | {ROOT / PROGRAM})


def test_no_module_but_the_reader_splits_an_arn_by_hand() -> None:
    found = []
    for path in _modules():
        rel = path.relative_to(ROOT).as_posix()
        if rel == READER:
            continue
        for line, what in _splits_on_colon(ast.parse(path.read_text(), rel)):
            if (rel, what) not in NOT_ARNS:
                found.append(f"{rel}:{line}: {what}.split(':') (use kmsguard.access.arn)")
    assert not found, "\n".join(found)


def test_every_allowed_split_still_exists() -> None:
    # A stale entry would let a later ARN split of the same spelling through unseen.
    seen = {
        (p.relative_to(ROOT).as_posix(), what)
        for p in _modules()
        for _, what in _splits_on_colon(ast.parse(p.read_text()))
    }
    assert set(NOT_ARNS) <= seen, sorted(set(NOT_ARNS) - seen)


def test_the_scan_catches_the_spellings_an_arn_was_split_with() -> None:
    code = (
        'a = arn.split(":")[4]\n'
        'b = who.arn.split(":", 5)\n'
        'c = p.rsplit(":", 1)[-1]\n'
        'd = x.partition(":")\n'
        'e = arn.split("/")\n'
        'f = arn.split(":key/")[-1]\n'
        'g = re.split(r"[/:]", principal)[4]\n'
        'h = str.split(key_arn, ":")\n'
        'i = re.split("/", path)\n'
    )
    found = sorted(w for _, w in _splits_on_colon(ast.parse(code)))
    assert found == ["arn", "arn", "key_arn", "p", "principal", "who.arn", "x"]


def test_every_product_package_and_the_program_are_scanned() -> None:
    scanned = {p.relative_to(ROOT).parts[0] for p in _modules()}
    assert {*PRODUCT, PROGRAM} <= scanned


def test_no_module_but_the_reader_compares_an_arn_prefix_by_hand() -> None:
    found = [
        f"{rel}:{line}: {what}.startswith('arn:...') (use kmsguard.access.arn)"
        for path in _modules()
        if (rel := path.relative_to(ROOT).as_posix()) != READER
        for line, what in _prefix_comparisons(ast.parse(path.read_text(), rel))
    ]
    assert not found, "\n".join(found)


def test_the_prefix_scan_catches_hand_built_arn_prefixes() -> None:
    code = (
        'a = arn.startswith(f"arn:aws:iam::{acct}:role/")\n'
        'b = value.startswith("arn:aws:dynamodb:")\n'
        'c = text.startswith(("x", "arn:aws-cn:"))\n'
        'd = v.removeprefix(f"arn:{p}:kms:{r}:{a}:key/")\n'
        'e = text.startswith("arn:")\n'
        'f = s.startswith(f"{table_arn}/stream/")\n'
    )
    found = sorted(w for _, w in _prefix_comparisons(ast.parse(code)))
    assert found == ["arn", "text", "v", "value"]
