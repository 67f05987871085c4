"""Hypothesis budgets: the `dev` and `ci` profiles, and each property's weight in examples."""

from __future__ import annotations

import os
from collections.abc import Mapping

from hypothesis import HealthCheck, settings

# Examples per unit of weight. `ci` (chosen when CI=true, and by `make test`) keeps the budgets
# the properties were written with; `dev`, the inner loop's, searches a tenth as far.
PROFILES = {"ci": 100, "dev": 10}
for _name, _examples in PROFILES.items():
    settings.register_profile(
        _name,
        max_examples=_examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )


def profile_name(env: Mapping[str, str] = os.environ) -> str:
    """`HYPOTHESIS_PROFILE` when set, else `ci` on a CI runner (CI=true), else `dev`."""
    chosen = env.get("HYPOTHESIS_PROFILE", "")
    if chosen:
        if chosen not in PROFILES:
            raise ValueError(f"HYPOTHESIS_PROFILE={chosen!r}: one of {', '.join(PROFILES)}")
        return chosen
    return "ci" if env.get("CI", "").strip().lower() == "true" else "dev"


def examples(weight: float = 1) -> int:
    """The loaded profile's examples times `weight`: a property's share of the budget."""
    return max(1, round(weight * settings().max_examples))
