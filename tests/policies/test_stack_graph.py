"""The stack graph: indexed once per AnalyzeStack call for every stack rule, freed when dropped."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from kmsguard.contract import AwsType
from policies.rules import stack_key_access_matches_declared
from policies.stack.graph import StackView
from policies.stack.keys import stack_keys
from policies.stack.principals import stack_subjects
from tests.policies.helpers import USER, Res, key_props, run_rule, stack_args


def _resources() -> list[object]:
    return list(stack_args([Res(AwsType.KMS_KEY, "key", key_props())]).resources)


def test_each_rule_gets_the_view_built_for_the_first() -> None:
    resources = _resources()
    first = StackView.shared(resources, "111122223333")
    # The SDK gives every stack policy a new list of the same resource objects.
    assert StackView.shared(list(resources), "111122223333") is first
    assert StackView.shared(list(resources), "444455556666") is not first


def test_another_stack_gets_its_own_view() -> None:
    first = StackView.shared(_resources())
    other = _resources()
    view = StackView.shared(other)
    assert view is not first
    assert [n.urn for n in view.nodes] == [getattr(r, "urn", None) for r in other]


def test_a_view_keeps_its_resources_alive_so_their_ids_cannot_be_reused() -> None:
    resources = _resources()
    view = StackView.shared(resources)
    ids = [id(r) for r in resources]
    del resources
    assert StackView.shared([object() for _ in ids]) is not view


@pytest.fixture
def no_cycle_collector() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def test_a_view_and_what_was_collected_from_it_are_freed_as_soon_as_dropped(
    no_cycle_collector: None,
) -> None:
    # The pack replaces views stack after stack; one kept alive by a reference cycle stays
    # until the collector's slowest pass, which must then walk every node of its stack.
    user = Res(AwsType.IAM_USER, "app", {"name": "app", "arn": USER})
    args = stack_args([Res(AwsType.KMS_KEY, "key", key_props()), user])
    view = StackView(args.resources)
    stack_keys(view).key_identifiers(view.of_type(AwsType.KMS_KEY)[0])
    stack_subjects(view)
    dropped = weakref.ref(view)
    del view
    assert dropped() is None
    run_rule(stack_key_access_matches_declared, args)
    shared = weakref.ref(StackView.shared(args.resources))
    StackView.shared(_resources())  # another stack: the first one's view is dropped
    assert shared() is None
