"""How long the fuzz runs: short and reproducible by default, longer on demand.

By default every test has its own small example count and a derandomized, database-free run, so
CI sees the same inputs every time (the whole package takes well under a minute here).
CORE_FUZZ_EXAMPLES=N sets every test's example count to N (e.g. 2000 for a night run);
CORE_FUZZ_RANDOM=1 drops derandomize so each run explores new inputs (a failure then prints the
`@reproduce_failure` blob to replay it).
"""

from __future__ import annotations

import os
from datetime import timedelta

from hypothesis import HealthCheck, settings

_EXAMPLES = os.environ.get("CORE_FUZZ_EXAMPLES", "")
_RANDOM = os.environ.get("CORE_FUZZ_RANDOM", "") not in ("", "0")

# A hang detector, not a speed check: one example is a handful of loopback requests, so only
# a stuck server comes anywhere near it, even on a loaded 2-core machine.
DEADLINE = timedelta(seconds=20)


def fuzz_settings(examples: int) -> settings:
    return settings(
        max_examples=int(_EXAMPLES) if _EXAMPLES else examples,
        deadline=DEADLINE,
        derandomize=not _RANDOM,
        database=None,
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )
