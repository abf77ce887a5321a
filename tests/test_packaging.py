"""The package as it is distributed: the sdist and the wheel ``python -m build`` makes hold
pagesfn (``pagesfn.adapters`` and ``pagesfn.testing`` included), its command and its pytest
plugin; not the tests, the demos or the benchmarks. (CI also installs the wheel into a new
virtual environment and runs a new project's tests there: ``.ci/run``.)"""

from __future__ import annotations

import configparser
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path, PurePosixPath

import pytest

ROOT = Path(__file__).parents[1]
OWN_FOLDERS = ("tests", "demo_flask", "demo_fastapi", "demo_realtime", "benchmarks", "docs")


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("build", reason="the packaging test builds with `build`: pip install build")
    out = tmp_path_factory.mktemp("dist")
    # --no-isolation: built with this environment's setuptools (the test extra pins it), so
    # the test needs no network.
    subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return out


def names_in_wheel(dist: Path) -> tuple[zipfile.ZipFile, set[str]]:
    (wheel,) = dist.glob("pagesfn-*.whl")
    archive = zipfile.ZipFile(wheel)
    return archive, set(archive.namelist())


def test_the_wheel_holds_the_package_and_nothing_else(dist: Path) -> None:
    _, names = names_in_wheel(dist)
    sources = {name for name in names if not name.startswith("pagesfn-")}
    tops = {PurePosixPath(name).parts[0] for name in sources}
    assert tops == {"pagesfn"}
    # The adapter layer, installed from adapters/ as pagesfn.adapters; the testing package.
    for module in ("adapters/detect.py", "adapters/mount.py", "testing/plugin.py", "py.typed"):
        assert f"pagesfn/{module}" in names
    # Every module of the source tree is in it.
    expected = {
        f"pagesfn/{p.relative_to(ROOT / 'pagesfn').as_posix()}"
        for p in (ROOT / "pagesfn").rglob("*.py")
    }
    expected |= {f"pagesfn/adapters/{p.name}" for p in (ROOT / "adapters").glob("*.py")}
    assert expected <= names
    assert not {name for name in names if name.endswith((".pyc", ".so"))}


def test_the_wheel_declares_the_command_and_the_pytest_plugin(dist: Path) -> None:
    archive, names = names_in_wheel(dist)
    (entry_points,) = [name for name in names if name.endswith(".dist-info/entry_points.txt")]
    parser = configparser.ConfigParser()
    parser.read_string(archive.read(entry_points).decode())
    assert parser["console_scripts"]["pagesfn"] == "pagesfn.serving.cli:main"
    assert parser["pytest11"]["pagesfn"] == "pagesfn.testing.plugin"


def test_the_sdist_builds_the_same_package(dist: Path) -> None:
    (sdist,) = dist.glob("pagesfn-*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = {
            PurePosixPath(name).relative_to(PurePosixPath(name).parts[0])
            for name in archive.getnames()
        }
    tops = {name.parts[0] for name in names if name.parts}
    assert {"pyproject.toml", "README.md", "pagesfn", "adapters"} <= tops
    assert not tops & set(OWN_FOLDERS)
