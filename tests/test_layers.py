"""The import-linter layers contract names every module of the package (so new ones are placed)."""

from __future__ import annotations

import pkgutil
import sys
from pathlib import Path

import livesettings

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent


class TestLayersContract:
    """pyproject.toml's layers list is complete."""

    def test_every_top_level_module_has_a_layer(self) -> None:
        """Each module and subpackage directly under livesettings appears in exactly one layer."""
        config = tomllib.loads((ROOT / "pyproject.toml").read_text())
        [contract] = config["tool"]["importlinter"]["contracts"]
        listed = [name.strip() for layer in contract["layers"] for name in layer.split("|")]
        modules = {m.name for m in pkgutil.iter_modules(livesettings.__path__)} - {"_version_info"}
        assert sorted(listed) == sorted(set(listed)), "a module is listed twice"
        assert set(listed) == modules
