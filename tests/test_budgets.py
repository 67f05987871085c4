"""The hypothesis profile follows the environment, and ci keeps the properties' full budgets."""

from __future__ import annotations

import pytest
from hypothesis import settings

from tests.budgets import PROFILES, examples, profile_name


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "dev"),
        ({"CI": "true"}, "ci"),
        ({"CI": "TRUE "}, "ci"),
        ({"CI": "false"}, "dev"),
        ({"CI": "1"}, "dev"),
        ({"CI": "true", "HYPOTHESIS_PROFILE": "dev"}, "dev"),
        ({"HYPOTHESIS_PROFILE": "ci"}, "ci"),
    ],
)
def test_the_profile_follows_the_environment(env: dict[str, str], expected: str) -> None:
    assert profile_name(env) == expected


def test_an_unknown_profile_is_named_with_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"HYPOTHESIS_PROFILE='nightly': one of ci, dev"):
        profile_name({"HYPOTHESIS_PROFILE": "nightly"})


def test_weights_scale_the_loaded_profile() -> None:
    previous = settings.default
    try:
        settings.load_profile("ci")
        # The budgets the properties were written with: fuzzing 1,000 examples a shard.
        assert (examples(), examples(1.5), examples(10)) == (100, 150, 1000)
        assert settings().deadline is None
        settings.load_profile("dev")
        assert examples(10) == 10 * PROFILES["dev"] == 100
        assert examples(0.001) == 1
    finally:
        settings.load_profile(profile_name())
        assert settings().max_examples == previous.max_examples
