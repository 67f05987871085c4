"""Read a Pulumi project (`Pulumi.yaml`) and one stack's config (`Pulumi.<stack>.yaml`)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kmsguard.preview.collect import UNKNOWN
from kmsguard.preview.yaml_file import read_yaml

# Preview-only settings in the `kmsguard` namespace: read here, never passed to the program.
ACCOUNT_ID_KEY = "kmsguard:previewAccountId"
PLACEHOLDER_ACCOUNT_ID = "123456789012"  # AWS's documentation placeholder account
DEFAULT_REGION = "us-east-1"
PREVIEW_KEYS = (ACCOUNT_ID_KEY,)

_NAME = re.compile(r"[A-Za-z0-9_.-]{1,100}")
_KEY = re.compile(r"[A-Za-z0-9_.-]+(:[A-Za-z0-9_.-]+)?")
_ACCOUNT = re.compile(r"[0-9]{12}")
_TYPES = {"string", "integer", "boolean", "array", "object"}


class ProjectError(ValueError):
    """Bad project or stack input; the message names the file and what is allowed."""


@dataclass
class Project:
    name: str
    directory: Path
    main: Path  # the file the language host runs (`__main__.py` of a directory main)
    stack: str
    config: dict[str, str] = field(default_factory=dict)  # full keys, values as Pulumi passes
    secret_keys: list[str] = field(default_factory=list)
    stack_file: Path | None = None

    @property
    def account_id(self) -> str:
        """kmsguard:previewAccountId, else the one account aws:allowedAccountIds permits."""
        if ACCOUNT_ID_KEY in self.config:
            return self.config[ACCOUNT_ID_KEY]
        try:
            allowed = json.loads(self.config.get("aws:allowedAccountIds", "[]"))
        except json.JSONDecodeError:
            allowed = []
        if isinstance(allowed, list) and len(allowed) == 1 and _ACCOUNT.fullmatch(str(allowed[0])):
            return str(allowed[0])
        return PLACEHOLDER_ACCOUNT_ID

    @property
    def region(self) -> str:
        return self.config.get("aws:region", DEFAULT_REGION)

    def program_config(self) -> dict[str, str]:
        return {k: v for k, v in self.config.items() if k not in PREVIEW_KEYS}


def _read_yaml(path: Path) -> Any:
    return read_yaml(path, ProjectError)


def _runtime(path: Path, data: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]]:
    runtime = data.get("runtime")
    if isinstance(runtime, str):
        return runtime, {}
    if isinstance(runtime, Mapping) and isinstance(runtime.get("name"), str):
        options = runtime.get("options")
        return runtime["name"], options if isinstance(options, Mapping) else {}
    raise ProjectError(f"{path}: runtime must be 'python' or {{name: python, options: ...}}")


def _main(path: Path, directory: Path, data: Mapping[str, Any]) -> Path:
    main = data.get("main")
    if main is not None and not isinstance(main, str):
        raise ProjectError(f"{path}: main must be a path relative to the project")
    target = (directory / (main or ".")).resolve()
    shown = repr(main) if main else "(the project directory)"
    if not target.exists():
        raise ProjectError(f"{path}: main {shown}: no such file or directory")
    if target.is_dir():
        target = target / "__main__.py"
        if not target.is_file():
            raise ProjectError(f"{path}: main {shown}: no __main__.py in {target.parent}")
    return target


def _as_config_string(value: Any) -> str:
    # Pulumi hands structured values to the program as JSON, scalars as their YAML text.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return json.dumps(value)


def _full_key(project: str, key: str) -> str:
    return key if ":" in key else f"{project}:{key}"


def _check_type(where: str, value: Any, kind: str) -> None:
    ok = {
        "string": isinstance(value, str),
        "integer": (isinstance(value, int) and not isinstance(value, bool))
        or (isinstance(value, str) and re.fullmatch(r"-?[0-9]{1,18}", value) is not None),
        "boolean": isinstance(value, bool) or value in ("true", "false"),
        "array": isinstance(value, list),
        "object": isinstance(value, dict),
    }[kind]
    if not ok:
        raise ProjectError(f"{where} = {json.dumps(value)}: must be of type {kind}")


def _declared(path: Path, project: str, data: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Project-level config declarations: {full key: {type?, default?, value?, secret?}}."""
    raw = data.get("config") or {}
    if not isinstance(raw, Mapping):
        raise ProjectError(f"{path}: config must be a mapping of keys to declarations")
    out: dict[str, dict[str, Any]] = {}
    for key, decl in raw.items():
        if not isinstance(key, str) or not _KEY.fullmatch(key):
            raise ProjectError(f"{path}: config key {key!r}: expected name or namespace:name")
        full = _full_key(project, key)
        if isinstance(decl, Mapping) and ({"type", "default", "value"} & set(decl)):
            kind = decl.get("type")
            if kind is not None and kind not in _TYPES:
                raise ProjectError(
                    f"{path}: config {key}.type = {kind!r}: allowed: {', '.join(sorted(_TYPES))}"
                )
            out[full] = dict(decl)
        else:
            out[full] = {"value": decl}
    return out


def _stack_values(path: Path, project: str) -> tuple[dict[str, Any], list[str]]:
    data = _read_yaml(path)
    if data is None:
        return {}, []
    if not isinstance(data, Mapping):
        raise ProjectError(f"{path}: expected a mapping with a `config:` section")
    raw = data.get("config") or {}
    if not isinstance(raw, Mapping):
        raise ProjectError(f"{path}: config must be a mapping of namespace:key to values")
    values: dict[str, Any] = {}
    secrets: list[str] = []
    for key, value in raw.items():
        if not isinstance(key, str) or not _KEY.fullmatch(key):
            raise ProjectError(
                f"{path}: config key {key!r}: expected namespace:name "
                "(letters, digits, '_', '-', '.')"
            )
        full = _full_key(project, key)
        if value is None:
            raise ProjectError(f"{path}: config {full} has no value; give one or remove the key")
        if isinstance(value, Mapping) and "secure" in value:
            if len(value) != 1 or not isinstance(value["secure"], str) or not value["secure"]:
                raise ProjectError(
                    f"{path}: config {full}: `secure:` must be the only field and hold the "
                    "ciphertext string Pulumi wrote"
                )
            # The ciphertext cannot be decrypted here: a secret whose value is unknown.
            values[full] = UNKNOWN
            secrets.append(full)
            continue
        values[full] = value
    return values, secrets


def load(directory: Path | str, stack: str, *, stack_required: bool) -> Project:
    """The project in `directory` and the config of `stack` (stack file optional if not asked)."""
    root = Path(directory)
    if not root.is_dir():
        raise ProjectError(f"--program {directory}: no such directory")
    root = root.resolve()
    path = root / "Pulumi.yaml"
    if not path.is_file() and (root / "Pulumi.yml").is_file():
        path = root / "Pulumi.yml"
    if not path.is_file():
        raise ProjectError(f"{path}: no such file; --program must name a Pulumi project directory")
    data = _read_yaml(path)
    if not isinstance(data, Mapping):
        raise ProjectError(f"{path}: expected a mapping with name and runtime")
    name = data.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ProjectError(f"{path}: name must be letters, digits, '_', '-' or '.'")
    runtime, _options = _runtime(path, data)
    if runtime != "python":
        raise ProjectError(
            f"{path}: runtime {runtime!r}: only Python programs run here (runtime: python)"
        )
    main = _main(path, root, data)
    if not _NAME.fullmatch(stack):
        raise ProjectError(f"--stack {stack!r}: a stack name is letters, digits, '_', '-', '.'")
    config_dir = data.get("stackConfigDir")
    stack_dir = root / config_dir if isinstance(config_dir, str) else root
    stack_file = stack_dir / f"Pulumi.{stack}.yaml"
    values: dict[str, Any] = {}
    secrets: list[str] = []
    if stack_file.is_file():
        values, secrets = _stack_values(stack_file, name)
    elif stack_required:
        raise ProjectError(f"{stack_file}: no such file; --stack names Pulumi.<stack>.yaml")
    else:
        stack_file = None  # type: ignore[assignment]
    declared = _declared(path, name, data)
    config: dict[str, str] = {}
    for full, decl in declared.items():
        kind = decl.get("type")
        where = f"{stack_file or path}: config {full}"
        if full in values:
            if kind and full not in secrets:
                _check_type(where, values[full], kind)
        elif "default" in decl:
            values[full] = decl["default"]
        elif "value" in decl:
            values[full] = decl["value"]
        elif kind and full.startswith(name + ":"):
            # The CLI refuses to run a program missing a declared key without a default.
            raise ProjectError(
                f"{stack_file or path}: missing configuration value {full} "
                f"(declared in {path.name} with type {kind} and no default)"
            )
    for full, value in values.items():
        config[full] = _as_config_string(value)
    account = config.get(ACCOUNT_ID_KEY)
    if account is not None and not _ACCOUNT.fullmatch(account):
        raise ProjectError(
            f"{stack_file or path}: config {ACCOUNT_ID_KEY} = {account!r}: must be 12 digits"
        )
    return Project(
        name=name,
        directory=root,
        main=main,
        stack=stack,
        config=config,
        secret_keys=secrets,
        stack_file=stack_file,
    )


def apply_overrides(project: Project, overrides: Mapping[str, str]) -> None:
    """`--config KEY=VALUE` wins over the stack file; bare keys take the project namespace."""
    for key, value in overrides.items():
        if not _KEY.fullmatch(key):
            raise ProjectError(f"--config {key}: expected name or namespace:name")
        full = _full_key(project.name, key)
        project.config[full] = value
        if full in project.secret_keys:
            project.secret_keys.remove(full)
    account = project.config.get(ACCOUNT_ID_KEY)
    if account is not None and not _ACCOUNT.fullmatch(account):
        raise ProjectError(f"--config {ACCOUNT_ID_KEY}={account}: must be 12 digits")
