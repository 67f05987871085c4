"""`--policy-config`: Pulumi's policy pack config format, checked against the pack's schemas."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from jsonschema import Draft7Validator
from jsonschema.exceptions import ValidationError

LEVELS = ("advisory", "disabled", "mandatory", "remediate")
ALL = "all"
SHAPE = (
    'expected {"<policy name>" or "all": "<enforcement level>" or '
    '{"enforcementLevel": ..., "<setting>": ...}}'
)
LEVEL_KEY = "enforcementLevel"


def repo_pack_schemas() -> dict[str, dict[str, Any]]:
    """Each setting's schema per policy of this repository's pack (its PolicyConfigSchema)."""
    from policies.rules import POLICIES

    return {p.name: dict(p.config_schema.properties) if p.config_schema else {} for p in POLICIES}


def _friendly(err: ValidationError, name: str) -> str:
    where = ".".join([name, *(f"[{p}]" if isinstance(p, int) else str(p) for p in err.path)])
    where = where.replace(".[", "[")
    value = _brief(err.instance)
    s = err.schema if isinstance(err.schema, Mapping) else {}
    kind = err.validator
    if kind == "type":
        wanted = {
            "integer": "must be a whole number",
            "number": "must be a number",
            "boolean": "must be true or false",
            "string": "must be a string",
            "array": "must be a list",
            "object": "must be an object",
        }.get(str(err.validator_value), f"must be of type {err.validator_value}")
        return f"{where} = {value}: {wanted}"
    if kind in ("minimum", "maximum"):
        low, high = s.get("minimum"), s.get("maximum")
        if low is not None and high is not None:
            return f"{where} = {value}: must be from {low} to {high}"
        if low is not None:
            return f"{where} = {value}: must be at least {low}"
        return f"{where} = {value}: must be at most {high}"
    if kind == "pattern" or (kind in ("minLength", "maxLength", "not") and "pattern" in s):
        # A length that bounds a pattern is part of it (it stops a final newline that Python's
        # `$` lets through): the user is told the pattern.
        return f"{where} = {value}: must match {s.get('pattern', err.validator_value)}"
    if kind == "enum":
        allowed = ", ".join(json.dumps(v) for v in err.validator_value)
        return f"{where} = {value}: allowed: {allowed}"
    if kind == "required":
        return f"{where}: {err.message}"
    return f"{where} = {value}: {err.message}"


def _brief(value: Any) -> str:
    """A value as JSON, cut short: a message quotes what was wrong, not a whole document."""
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _level_problem(where: str, level: Any) -> str | None:
    if isinstance(level, str) and level in LEVELS:
        return None
    return f"{where} = {_brief(level)}: allowed: {', '.join(LEVELS)}"


def problems(
    data: Mapping[str, Any],
    schemas: Mapping[str, Mapping[str, Any]] | None = None,
    required: Mapping[str, Sequence[str]] | None = None,
) -> list[str]:
    """Every problem of a parsed config: names, levels, then each policy's settings (defaults
    applied, as the CLI validates them) against its JSON schema.

    `schemas` maps each policy to its settings' schemas (default: this repository's pack).
    Unknown settings are refused, although the CLI ignores them: a misspelt setting would
    otherwise leave the default silently in force.
    """
    if schemas is None:
        schemas = repo_pack_schemas()
    out: list[str] = []
    for name, value in data.items():
        if name != ALL and name not in schemas:
            out.append(f"{name!r}: no such policy; allowed: {ALL}, {', '.join(schemas)}")
            continue
        if isinstance(value, str):
            if problem := _level_problem(name, value):
                out.append(problem)
            continue
        if not isinstance(value, dict):
            out.append(
                f"{name} = {_brief(value)}: must be an enforcement level "
                f"({', '.join(LEVELS)}) or an object of settings"
            )
            continue
        level_problem = (
            _level_problem(f"{name}.{LEVEL_KEY}", value[LEVEL_KEY]) if LEVEL_KEY in value else None
        )
        if level_problem:
            out.append(level_problem)
        settings = {k: v for k, v in value.items() if k != LEVEL_KEY}
        if name == ALL:
            if settings:
                out.append(
                    f"{ALL}.{next(iter(settings))}: {ALL} takes only {LEVEL_KEY} (or a level); "
                    "give settings under their policy's name"
                )
            continue
        for k in settings:
            if k not in schemas[name]:
                allowed = ", ".join([LEVEL_KEY, *schemas[name]])
                out.append(f"{name}.{k}: unknown setting; allowed: {allowed}")
    # As the CLI does: every policy's settings, defaults applied, given or not (required ones).
    for name, known in schemas.items():
        given = data.get(name)
        settings = given if isinstance(given, dict) else {}
        schema: dict[str, Any] = {"type": "object", "properties": dict(known)}
        if required and required.get(name):
            schema["required"] = list(required[name])
        defaults = {
            k: s["default"] for k, s in known.items() if isinstance(s, Mapping) and "default" in s
        }
        merged = {**defaults, **{k: v for k, v in settings.items() if k in known}}
        errors = sorted(
            Draft7Validator(schema).iter_errors(merged), key=lambda e: [str(p) for p in e.path]
        )
        # One value breaking a pattern and the lengths that bound it is one problem.
        out.extend(dict.fromkeys(_friendly(e, name) for e in errors))
    return out


def normalize(data: Mapping[str, Any], policy_names: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Per-policy `{"enforcementLevel"?: ..., <setting>: ...}` as the engine hands it over:
    `all` sets every policy's level, a policy's own level (string shorthand or object) wins."""
    out: dict[str, dict[str, Any]] = {}
    every = data.get(ALL)
    every_level = every if isinstance(every, str) else (every or {}).get(LEVEL_KEY)
    if every_level is not None:
        for name in policy_names:
            out[name] = {LEVEL_KEY: every_level}
    for name, value in data.items():
        if name == ALL:
            continue
        entry = out.setdefault(name, {})
        if isinstance(value, str):
            entry[LEVEL_KEY] = value
        else:
            entry.update(value)
    return out


def read(path: str) -> dict[str, Any]:
    """The config file as JSON; ValueError with one message naming what is wrong."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"--policy-config {path}: cannot read it ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise ValueError(f"--policy-config {path}: not UTF-8 text; {SHAPE}") from None
    if not text.strip():
        return {}  # the CLI takes an empty file as no configuration
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"--policy-config {path}: not JSON (line {exc.lineno}: {exc.msg}); {SHAPE}"
        ) from None
    except RecursionError:
        raise ValueError(f"--policy-config {path}: nested too deeply to read") from None
    if not isinstance(data, dict):
        raise ValueError(f"--policy-config {path}: {SHAPE}")
    return data


def check(
    path: str,
    data: Mapping[str, Any],
    schemas: Mapping[str, Mapping[str, Any]] | None = None,
    required: Mapping[str, Sequence[str]] | None = None,
) -> None:
    """ValueError listing every problem of `data` (one line when there is one)."""
    found = problems(data, schemas, required)
    if len(found) == 1:
        raise ValueError(f"--policy-config {path}: {found[0]}")
    if found:
        listed = "".join(f"\n  - {p}" for p in found)
        raise ValueError(f"--policy-config {path} ({len(found)} problems):{listed}")
