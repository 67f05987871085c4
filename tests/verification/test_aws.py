"""The verifier's clients: each its own credentials, the service models read once per run."""

from __future__ import annotations

from pathlib import Path

import pytest
from botocore.loaders import JSONFileLoader

from verification.aws import Aws, Credentials

AWS = Aws("eu-west-1", "http://127.0.0.1:1")
ROLE = Credentials("ASIAROLE", "role-secret", "role-token")


def test_a_second_client_reads_no_model_file_again(monkeypatch: pytest.MonkeyPatch) -> None:
    AWS.client("iam")
    read: list[str] = []
    load = JSONFileLoader.load_file

    def counting(self: JSONFileLoader, file_path: str) -> object:
        read.append(file_path)
        return load(self, file_path)

    monkeypatch.setattr(JSONFileLoader, "load_file", counting)
    AWS.client("iam")
    AWS.client("iam", ROLE)
    assert read == []


def test_sessions_sharing_the_models_keep_their_own_credentials(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAFROMENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    role = AWS.client("dynamodb", ROLE)._request_signer._credentials
    assert (role.access_key, role.secret_key, role.token) == (
        "ASIAROLE",
        "role-secret",
        "role-token",
    )
    # Without credentials, the default chain (here the environment) as before.
    assert AWS.client("dynamodb")._request_signer._credentials.access_key == "AKIAFROMENV"
    assert AWS.client("dynamodb", ROLE).meta.region_name == "eu-west-1"


def test_the_shared_models_search_each_path_once() -> None:
    for _ in range(3):
        AWS.session(ROLE)
    paths = AWS.session()._session.get_component("data_loader").search_paths
    assert len(paths) == len(set(paths)) and any(p.endswith("boto3/data") for p in paths)


def test_extra_model_directories_are_searched_first(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AWS_DATA_PATH", str(tmp_path))
    paths = AWS.session(ROLE)._session.get_component("data_loader").search_paths
    assert paths[0] == str(tmp_path)
