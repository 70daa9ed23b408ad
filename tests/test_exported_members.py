"""Guard the public surface of ``livesettings``, like httpx's ``tests/test_exported_members.py``."""

from __future__ import annotations

import types

import pytest

import livesettings

REQUIRED = {
    "ReloadableSettings",
    "ReloadConfig",
    "Restart",
    "on_change",
    "Change",
    "ChangeType",
    "Diff",
    "Version",
    "ReloadError",
    "HotReloadManager",
    "HotReloadableConfigProvider",
    "EnvironmentConfigProvider",
    "ConfigSubscriber",
    "ConfigReloadable",
    "ConfigChange",
    "ValidationResult",
}


def _public_names() -> list[str]:
    """Names a user could import: not private and not a submodule (``livesettings.exceptions`` ...)."""
    return [
        name
        for name, value in vars(livesettings).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    ]


class TestExportedMembers:
    """``livesettings.__all__`` and the objects it names."""

    def test_all_is_sorted_and_complete(self) -> None:
        """``__all__`` is exactly the sorted list of public names."""
        assert livesettings.__all__ == sorted(_public_names())

    def test_design_contract_names(self) -> None:
        """Every name the design's API contract requires is exported."""
        assert REQUIRED <= set(livesettings.__all__)

    def test_config_change_alias(self) -> None:
        """``ConfigChange`` is ``Change``."""
        assert livesettings.ConfigChange is livesettings.Change

    def test_version_string(self) -> None:
        """``__version__`` is a non-empty string."""
        assert isinstance(livesettings.__version__, str) and livesettings.__version__


@pytest.mark.parametrize(
    "name",
    [n for n in livesettings.__all__ if isinstance(getattr(livesettings, n), (type, types.FunctionType))],
)
def test_module_is_the_package(name: str) -> None:
    """Each exported class or function reports ``livesettings`` as its module (instances have no own one)."""
    assert getattr(livesettings, name).__module__ == "livesettings"
