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
    # dir(), not vars(): most names are imported on first use (the module's __getattr__)
    return [
        name
        for name in dir(livesettings)
        if not name.startswith("_") and not isinstance(getattr(livesettings, name), types.ModuleType)
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


class TestMovedNames:
    """Names that left the top level in 0.2 still resolve, with a warning naming their new home."""

    @pytest.mark.parametrize("name", sorted(livesettings._MOVED))
    def test_moved_name_warns_and_resolves(self, name: str) -> None:
        """``livesettings.X`` for a moved ``X`` warns and returns the object from its new module."""
        import importlib

        home = importlib.import_module(livesettings._MOVED[name])
        with pytest.warns(DeprecationWarning, match=f"moved to {home.__name__}.{name}"):
            obj = getattr(livesettings, name)
        assert obj is getattr(home, name)

    def test_unknown_name_is_an_attribute_error(self) -> None:
        """A name that never existed is still an AttributeError."""
        with pytest.raises(AttributeError, match="no attribute 'Nope'"):
            livesettings.Nope  # noqa: B018

    @pytest.mark.parametrize("module_name", ["livesettings.components", "livesettings.watch"])
    def test_reprs_name_importable_objects(self, module_name: str) -> None:
        """Every class in a public namespace reports a module and name it can be imported by."""
        import importlib

        module = importlib.import_module(module_name)
        for name in module.__all__:
            obj = getattr(module, name)
            if isinstance(obj, type):
                home = importlib.import_module(obj.__module__)
                assert getattr(home, obj.__qualname__) is obj, f"{module_name}.{name}: {obj!r}"

    def test_hot_reload_watcher_repr(self) -> None:
        """``repr(HotReloadWatcher)`` names a class that exists (0.1 named ``livesettings.FileWatcher``)."""
        from livesettings.components import HotReloadWatcher
        from livesettings.watch import FileWatcher

        assert repr(HotReloadWatcher) == "<class 'livesettings.watch.FileWatcher'>"
        assert HotReloadWatcher is FileWatcher
