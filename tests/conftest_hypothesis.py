"""Hypothesis profiles for tests/test_properties.py (imported by conftest.py, so that they
exist before pytest reads `--hypothesis-profile`).

- `ci` (the default): a few hundred examples per property, the whole file in ~20 s.
- `thorough`: thousands: `pytest tests/test_properties.py --hypothesis-profile thorough`.

No example database: failures print the example (and `@reproduce_failure`) instead of
leaving a `.hypothesis/` folder behind.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

_QUIET = [HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large]

settings.register_profile("ci", max_examples=200, deadline=None, database=None, suppress_health_check=_QUIET)
settings.register_profile(
    "thorough", max_examples=3_000, deadline=None, database=None, suppress_health_check=_QUIET, print_blob=True
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# Properties that run the whole CLI twice per example take a share of the budget.
SLOW_EXAMPLES = {"ci": 40, "thorough": 600}


def examples(slow: bool = False) -> int:
    """The example count for a property under the current profile."""
    name = settings.get_current_profile_name()
    if slow:
        return SLOW_EXAMPLES.get(name, 40)
    return settings.default.max_examples
