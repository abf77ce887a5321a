"""Fixtures for the command's tests: project folders written from a dict of files."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import pytest
from servers import write_tree


@pytest.fixture
def project(tmp_path: Path) -> Callable[[Mapping[str, str]], Path]:
    """``project({"functions/hello.py": ...})`` writes a project folder and returns it."""
    count = 0

    def make(files: Mapping[str, str]) -> Path:
        nonlocal count
        count += 1
        root = tmp_path / f"project{count}"
        root.mkdir()
        return write_tree(root, files)

    return make


@pytest.fixture(params=["uvicorn", "granian"])
def server_name(request: pytest.FixtureRequest) -> str:
    """The HTTP server a command test runs ``pagesfn`` under (``--server``), each in turn."""
    if request.param == "granian":
        pytest.importorskip("granian", reason="pip install 'granian>=2.5'")
    name: str = request.param
    return name
