"""watchdog and the file watcher are imported when watching starts, not when livesettings is imported."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

WATCHER_MODULES = ("watchdog", "livesettings.watch.watcher", "livesettings.watch.observer", "livesettings.watch.feed")


PRELUDE = f"""
    import sys
    WATCHER_MODULES = {WATCHER_MODULES!r}

    def loaded():
        return ",".join(sorted(m for m in WATCHER_MODULES if m in sys.modules)) or "-"
"""


def run(code: str, cwd: Path, *, prelude: bool = True) -> str:
    """Run ``code`` (after ``PRELUDE``) in a fresh interpreter in ``cwd`` (development environment); its stdout."""
    code = (textwrap.dedent(PRELUDE) if prelude else "") + textwrap.dedent(code)
    env = {k: v for k, v in os.environ.items() if k not in ("LIVESETTINGS_ENV", "APP_ENV", "ENVIRONMENT")}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=90
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


class TestLazyWatchdog:
    """What ``import livesettings`` and a settings object without watching leave unimported."""

    def test_import_leaves_watchdog_out(self, tmp_path: Path) -> None:
        """``import livesettings`` (and its public namespaces) imports neither watchdog nor the watcher."""
        out = run("""
            import livesettings
            import livesettings.components, livesettings.watch, livesettings.sources, livesettings.exceptions
            from livesettings.watch import Debouncer, WatchOptions, WatchStatus
            print(loaded())
        """, tmp_path)
        assert out.split() == ["-"]

    def test_settings_without_watching_leave_watchdog_out(self, tmp_path: Path) -> None:
        """Loading, reloading and closing a settings object with watching off imports no watcher module."""
        (tmp_path / "app.yaml").write_text("port: 1\n")
        out = run("""
            from pydantic_settings import SettingsConfigDict
            from livesettings import ReloadConfig, ReloadableSettings

            class App(ReloadableSettings):
                model_config = SettingsConfigDict(yaml_file="app.yaml")
                reload_config = ReloadConfig(enabled=False)
                port: int = 0

            with App() as settings:
                open("app.yaml", "w").write("port: 2\\n")
                assert settings.reload() is not None and settings.port == 2
                assert settings.hot_reload.is_enabled() is False
                print(loaded())
        """, tmp_path)
        assert out.split() == ["-"]

    def test_watching_imports_the_watcher_and_reloads(self, tmp_path: Path) -> None:
        """With watching on the watcher is imported on demand and a file write still reaches the settings."""
        (tmp_path / "app.yaml").write_text("port: 1\n")
        out = run("""
            import time
            from pydantic_settings import SettingsConfigDict
            from livesettings import ReloadConfig, ReloadableSettings

            class App(ReloadableSettings):
                model_config = SettingsConfigDict(yaml_file="app.yaml")
                reload_config = ReloadConfig(debounce_ms=0)
                port: int = 0

            before = loaded()
            with App() as settings:
                print(before, loaded())
                open("app.yaml", "w").write("port: 2\\n")
                deadline = time.monotonic() + 30
                while settings.port != 2 and time.monotonic() < deadline:
                    time.sleep(0.01)
                print(settings.port)
        """, tmp_path)
        before, after, port = out.split()
        assert before == "-"
        assert after == ",".join(sorted(WATCHER_MODULES))
        assert port == "2"

    def test_lazy_names_resolve_with_their_public_home(self, tmp_path: Path) -> None:
        """The lazily imported classes are the watcher's, and their reprs name ``livesettings.watch``."""
        out = run("""
            from livesettings.components import HotReloadWatcher
            import livesettings.watch as w
            from livesettings.watch.feed import FileFeed
            assert HotReloadWatcher is w.FileWatcher is w.HotReloadWatcher and w.FileFeed is FileFeed
            print(repr(w.FileFeed), repr(HotReloadWatcher), sorted(set(w.__all__) - set(dir(w))))
        """, tmp_path, prelude=False)
        assert out.split() == ["<class", "'livesettings.watch.FileFeed'>", "<class", "'livesettings.watch.FileWatcher'>",
                               "[]"]


# Imported on the first document of their format (or the first error message that needs them), not by
# ``import livesettings``: pydantic-settings imports PyYAML only when its YAML source is used, too.
PARSER_MODULES = ("difflib", "livesettings._yamlparse", "tomllib", "yaml")


def loaded_of(modules: tuple[str, ...]) -> str:
    return f"print(','.join(sorted(m for m in {modules!r} if m in sys.modules)) or '-')"


class TestLazyParsers:
    """PyYAML, tomllib and difflib wait for the first document (or unknown key) that needs them."""

    def test_import_leaves_the_parsers_out(self, tmp_path: Path) -> None:
        """``import livesettings`` and its public namespaces import neither PyYAML, tomllib nor difflib."""
        out = run(f"""
            import livesettings
            import livesettings.components, livesettings.watch, livesettings.sources, livesettings.exceptions
            {loaded_of(PARSER_MODULES)}
        """, tmp_path)
        assert out.split() == ["-"]

    def test_a_toml_only_settings_object_leaves_yaml_out(self, tmp_path: Path) -> None:
        """A settings object reading only TOML imports tomllib on its first load and never PyYAML."""
        (tmp_path / "app.toml").write_text("port = 1\n")
        out = run(f"""
            from pydantic_settings import SettingsConfigDict
            from livesettings import ReloadConfig, ReloadableSettings

            class App(ReloadableSettings):
                model_config = SettingsConfigDict(toml_file="app.toml")
                reload_config = ReloadConfig(enabled=False)
                port: int = 0

            with App() as settings:
                open("app.toml", "w").write("port = 2\\n")
                assert settings.reload() is not None and settings.port == 2
                {loaded_of(PARSER_MODULES)}
        """, tmp_path)
        assert out.split() == ["tomllib"]

    def test_yaml_is_imported_on_the_first_yaml_document(self, tmp_path: Path) -> None:
        """The first YAML load imports PyYAML and the YAML parser, and parses the file."""
        (tmp_path / "app.yaml").write_text("port: 1\n")
        out = run(f"""
            from pydantic_settings import SettingsConfigDict
            from livesettings import ReloadConfig, ReloadableSettings

            class App(ReloadableSettings):
                model_config = SettingsConfigDict(yaml_file="app.yaml")
                reload_config = ReloadConfig(enabled=False)
                port: int = 0

            {loaded_of(PARSER_MODULES)}
            with App() as settings:
                print(settings.port)
                {loaded_of(PARSER_MODULES)}
        """, tmp_path)
        assert out.split() == ["-", "1", "livesettings._yamlparse,yaml"]


# Imported by the first settings object (or the first use of a name from them), not by ``import livesettings``.
ENGINE_MODULES = ("livesettings._engine", "livesettings._loader", "livesettings._model", "livesettings._notify",
                  "livesettings._provenance", "livesettings._sources", "livesettings._stats",
                  "livesettings._unknown", "livesettings.components", "livesettings.watch")


class TestLazyEngine:
    """``import livesettings`` loads what declaring a settings class needs; the engine side waits."""

    def test_import_and_declaring_a_class_leave_the_engine_side_out(self, tmp_path: Path) -> None:
        """Importing and declaring a settings class (with a handler) import none of the engine side."""
        out = run(f"""
            import livesettings
            {loaded_of(ENGINE_MODULES)}

            class App(livesettings.ReloadableSettings):
                port: int = 0

                @livesettings.on_change("port")
                def moved(self, diff): ...

            {loaded_of(tuple(m for m in ENGINE_MODULES if m != "livesettings._unknown"))}
        """, tmp_path)
        assert out.split() == ["-", "-"]

    def test_first_object_loads_it_and_names_keep_their_public_home(self, tmp_path: Path) -> None:
        """A settings object works without any other import; its values' classes report ``livesettings``."""
        out = run("""
            import livesettings

            class App(livesettings.ReloadableSettings):
                reload_config = livesettings.ReloadConfig(enabled=False)
                port: int = 0

            with App() as settings:
                print(repr(type(settings.version)), repr(type(settings.stats())), repr(type(settings.explain("port"))))
            from livesettings import ConfigChange, Version, components, watch
            assert Version is type(settings.version) and ConfigChange is livesettings.Change
            print(repr(components.AtomicConfigStore), repr(watch.WatchOptions))
        """, tmp_path, prelude=False)
        assert out.split() == [
            "<class", "'livesettings.Version'>", "<class", "'livesettings.ReloadStats'>",
            "<class", "'livesettings.Origin'>", "<class", "'livesettings.components.AtomicConfigStore'>",
            "<class", "'livesettings.watch.WatchOptions'>",
        ]

    def test_component_classes_report_their_home_before_components_is_imported(self, tmp_path: Path) -> None:
        """A class reached through a settings object names ``livesettings.components`` (or ``.watch``) already."""
        out = run("""
            import sys
            import livesettings

            class App(livesettings.ReloadableSettings):
                reload_config = livesettings.ReloadConfig(enabled=False)
                port: int = 0

            with App() as settings:
                before = {t.__qualname__: t.__module__ for t in (type(settings.hot_reload.store),
                          type(settings.hot_reload.notifier), type(settings.hot_reload.loader))}
            assert "livesettings.components" not in sys.modules
            import livesettings.components as c
            after = {n: getattr(c, n).__module__ for n in before}
            print(before == after, sorted(set(before.values())))
        """, tmp_path, prelude=False)
        assert out.split() == ["True", "['livesettings.components']"]

    def test_star_import_gives_every_public_name(self, tmp_path: Path) -> None:
        """``from livesettings import *`` binds all of ``__all__``, the names imported on first use too."""
        out = run("""
            import livesettings
            ns = {}
            exec("from livesettings import *", ns)
            print(sorted(set(livesettings.__all__) - set(ns)) or "-", ns["Diff"] is livesettings.Diff)
        """, tmp_path, prelude=False)
        assert out.split() == ["-", "True"]
