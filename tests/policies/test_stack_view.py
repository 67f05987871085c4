"""The stack indexed once per AnalyzeStack call, however many stack rules read it."""

from __future__ import annotations

from kmsguard.contract import AwsType
from policies.stack.graph import StackView
from tests.policies.helpers import Res, key_props, stack_args


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
