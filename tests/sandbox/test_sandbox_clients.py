"""Clients of the sandbox's Python API: each its own credentials, the service models read once."""

from __future__ import annotations

from pathlib import Path

import pytest
from botocore.loaders import JSONFileLoader

from sandbox import SandboxInfo

SB = SandboxInfo("http://127.0.0.1:1", "eu-west-1", "111122223333", "AKIAADMIN", "admin-secret")


def _files_read(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    read: list[str] = []
    load = JSONFileLoader.load_file

    def counting(self: JSONFileLoader, file_path: str) -> object:
        read.append(file_path)
        return load(self, file_path)

    monkeypatch.setattr(JSONFileLoader, "load_file", counting)
    return read


def test_a_second_client_reads_no_model_file_again(monkeypatch: pytest.MonkeyPatch) -> None:
    SB.client("dynamodb")
    read = _files_read(monkeypatch)
    SB.client("dynamodb")
    SB.client("dynamodb", "AKIAOTHER", "other-secret", "token")
    SB.session().client("dynamodb", endpoint_url=SB.endpoint_url)
    assert read == []


def test_sessions_sharing_the_models_keep_their_own_credentials() -> None:
    admin = SB.client("kms")
    other = SB.client("kms", "AKIAOTHER", "other-secret", "token")
    assert admin._request_signer._credentials.access_key == "AKIAADMIN"
    mine = other._request_signer._credentials
    assert (mine.access_key, mine.secret_key, mine.token) == ("AKIAOTHER", "other-secret", "token")
    assert admin.meta.region_name == other.meta.region_name == "eu-west-1"
    assert admin.meta.endpoint_url == other.meta.endpoint_url == "http://127.0.0.1:1"


def test_the_shared_models_search_each_path_once() -> None:
    for _ in range(3):
        SB.session()
    paths = SB.session()._session.get_component("data_loader").search_paths
    assert len(paths) == len(set(paths)) and any(p.endswith("boto3/data") for p in paths)


def test_extra_model_directories_are_searched_first(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AWS_DATA_PATH", str(tmp_path))
    paths = SB.session()._session.get_component("data_loader").search_paths
    assert paths[0] == str(tmp_path)
