"""Policy documents read from resource properties: one parse shared by every rule, bounded."""

from __future__ import annotations

import json
import sys

import pytest

from policies import values
from policies.values import UNKNOWN, DocumentError, load_document

DOC = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:*"}]}


def test_the_same_text_is_parsed_once_and_shared_by_its_readers() -> None:
    text = json.dumps({**DOC, "Id": "shared-once"})
    first = load_document(text)
    assert first == {**DOC, "Id": "shared-once"}
    assert load_document(text) is first


def test_a_text_larger_than_any_key_policy_is_parsed_each_time_not_kept() -> None:
    text = json.dumps({**DOC, "Id": "x" * (values._LOADED_MAX_TEXT + 1)})
    assert load_document(text) is not load_document(text)
    assert text not in values._LOADED


def test_distinct_texts_never_keep_more_than_the_bound() -> None:
    for i in range(values._LOADED_ENTRIES + 50):
        load_document(json.dumps({**DOC, "Id": f"doc{i}"}))
    assert len(values._LOADED) <= values._LOADED_ENTRIES


def _texts(n: int) -> list[str]:
    return [json.dumps({**DOC, "Id": f"request{i}"}) for i in range(n)]


def test_within_a_request_each_text_is_parsed_once_past_the_bound() -> None:
    texts = _texts(values._LOADED_ENTRIES + 50)
    with values.request_documents():
        first = [load_document(t) for t in texts]
        # A second rule reading the same documents: every one the same parse.
        assert all(load_document(t) is doc for t, doc in zip(texts, first, strict=True))
    assert len(values._LOADED) <= values._LOADED_ENTRIES
    # Outside a request the bound holds alone: the earliest texts were dropped.
    assert load_document(texts[0]) is not first[0]


def test_a_request_keeps_nothing_once_over() -> None:
    (text,) = _texts(1)
    with values.request_documents():
        doc = load_document(text)
        with values.request_documents():  # a nested request starts empty
            assert values._REQUEST.get() == {}
        assert values._REQUEST.get() == {text: doc}
    assert values._REQUEST.get() is None


def test_a_request_reads_what_an_earlier_one_left_in_the_shared_cache() -> None:
    (text,) = _texts(1)
    doc = load_document(text)
    with values.request_documents():
        assert load_document(text) is doc


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", '"a string"'])
def test_a_bad_text_is_refused_every_time_it_is_read(text: str) -> None:
    for _ in range(2):
        with pytest.raises(DocumentError):
            load_document(text)
        with values.request_documents(), pytest.raises(DocumentError):
            load_document(text)


def test_a_text_holding_an_unknown_value_stays_unknown_after_a_known_one() -> None:
    from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

    known = json.dumps(DOC)
    assert isinstance(load_document(known), dict)
    unknown = json.dumps({**DOC, "Id": UNKNOWN_STRING_VALUE})
    assert load_document(unknown) is UNKNOWN
    assert load_document(unknown) is UNKNOWN


def test_the_pack_loads_the_prover_and_catalogs_before_serving() -> None:
    from kmsguard.access.catalog import catalog
    from policies.__main__ import preload
    from policies.managed import _documents

    catalog.cache_clear()
    _documents.cache_clear()
    preload()
    assert "z3" in sys.modules
    assert catalog.cache_info().currsize == 1
    assert _documents.cache_info().currsize == 1
