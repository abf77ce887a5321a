"""Where the source of mounted apps lives, for hot reload to watch it too.

An existing app is usually dropped into a tree from its own folder: a package installed
with ``pip install -e``, or one beside the project. Its ``[[default]].py`` only imports it,
so edits to the app happen outside ``functions/``. The folders of what the mounting files
import are found from their source, without importing anything (``find_spec`` on each
top-level name); the standard library and installed packages are left out.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from ..engine.loader import installed_roots
from ..routing.scan import UNROUTED_PREFIXES


def mounted_sources(functions: Path) -> list[Path]:
    """The folders holding what the tree's catch-all files (the ones that can mount an
    app) import from outside the tree, the standard library and the installed packages."""
    tree = functions.resolve()
    installed = [Path(root) for root in installed_roots()]
    folders: list[Path] = []
    for file in _catchalls(functions):
        for name in _imported(file):
            folder = _source_folder(name)
            if (
                folder is None
                or folder.is_relative_to(tree)
                or any(folder.is_relative_to(root) for root in installed)
                or folder in folders
            ):
                continue
            folders.append(folder)
    return folders


def _catchalls(functions: Path) -> Iterator[Path]:
    """The ``[[name]].py`` files of the tree, in the folders the router reads. (Not a
    whole scan: the dev server's start-up would read every file twice.)"""
    for folder, subfolders, files in os.walk(functions):
        subfolders[:] = sorted(n for n in subfolders if not n.startswith(UNROUTED_PREFIXES))
        for name in sorted(files):
            if name.startswith("[[") and name.endswith("]].py"):
                yield Path(folder, name)


def _imported(file: Path) -> Iterator[str]:
    """The top-level names of the absolute imports of ``file``."""
    try:
        module = ast.parse(file.read_bytes(), str(file))
    except (OSError, SyntaxError, ValueError):
        return
    for node in ast.walk(module):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name.partition(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module.partition(".")[0]


def _source_folder(name: str) -> Path | None:
    """The folder of the top-level module or package ``name``, if it has one on disk."""
    if name in sys.stdlib_module_names or name in sys.builtin_module_names:
        return None
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    if spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations))).resolve()
    if spec.has_location and spec.origin:
        return Path(spec.origin).resolve().parent
    return None
