"""Tests that need something a pip-only machine lacks (Debian's MariaDB or Chromium, a JDK for Apache Kafka).

Such a test calls :func:`unavailable` when the thing is missing: it skips with the reason on a developer's
machine, and fails when the thing is named in ``MLMD_LOG_REQUIRE`` (comma-separated), which ``.ci/run`` sets for
everything it installs, so CI can never pass by skipping them (docs/development.md).
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

REQUIRE_ENV = "MLMD_LOG_REQUIRE"


def required() -> set[str]:
    """The things ``MLMD_LOG_REQUIRE`` names (lower case)."""
    return {part.strip().lower() for part in os.environ.get(REQUIRE_ENV, "").split(",") if part.strip()}


def unavailable(thing: str, reason: str) -> NoReturn:
    """Skip the test because ``thing`` is missing, or fail it when the environment requires ``thing``."""
    if thing.lower() in required():
        pytest.fail(f"{REQUIRE_ENV} requires {thing}, but {reason}")
    pytest.skip(f"{reason} (set {REQUIRE_ENV}={thing} to make this a failure)")
