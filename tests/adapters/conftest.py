"""Fixtures for the adapter tests."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).parent
# Route modules import the helpers beside this file (``django_site``, ``probes``) by name.
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import probes  # noqa: E402


@pytest.fixture(autouse=True)
def _fresh_probes() -> Iterator[None]:
    probes.reset()
    yield
    probes.reset()
