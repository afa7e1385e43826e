"""The SMTP test hub (mx and submission on a background loop) and its PKI, for the filing tests; the shared
fixtures for module-scoped served hubs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import FIXTURES, FIXTURES_HOW
from tests.smtp.conftest import pki, smtp_hub, smtp_settings  # noqa: F401  (fixtures)
from tests.support.missing import missing


@pytest.fixture(scope="module")
def module_fixtures_dir(request) -> Path:
    """tests/conftest.py's fixtures_dir, for a scene built once per module (said loudly when absent)."""
    if not FIXTURES.is_dir():
        missing(request.node.nodeid, f"the shared fixtures are not at {FIXTURES}", FIXTURES_HOW)
    return FIXTURES
