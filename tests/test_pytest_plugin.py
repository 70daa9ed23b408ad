"""The pytest plugin, run the way users run it: pytester starts pytest on a small test file."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

pytest_plugins = ["pytester"]

QUIET = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest")  # plugins the inner runs do not need (hypothesis' is slow to finish)

APP = '''
from pydantic import Field
from pydantic_settings import SettingsConfigDict
from livesettings import Diff, ReloadableSettings, ReloadConfig, on_change

APPLIED = []


class AppSettings(ReloadableSettings):
    model_config = SettingsConfigDict(yaml_file="config/app.yaml")
    reload_config = ReloadConfig(debounce_ms=200)
    level: str = "INFO"
    rate: int = Field(default=10, ge=1)

    @on_change("level")
    def _apply(self, diff: Diff) -> None:
        APPLIED.append(diff.new_value)
'''

USES_FIXTURES = '''
import pytest
from livesettings import ReloadError
from livesettings.testing import override
from plugin_demo_app import APPLIED, AppSettings


@pytest.fixture
def settings(live_settings_factory):
    return live_settings_factory(AppSettings, {"config/app.yaml": "level: INFO\\n"}, watch=True)


def test_write_and_wait(settings, livesettings_files):
    APPLIED.clear()
    version = livesettings_files.write_and_wait(settings, "config/app.yaml", "level: DEBUG\\n")
    assert settings.level == "DEBUG" and version.number == 2
    assert APPLIED == ["DEBUG"]


def test_rejected_write(settings, livesettings_files):
    with pytest.raises(ReloadError, match="rate"):
        livesettings_files.write_and_wait(settings, "config/app.yaml", "rate: 0\\n")
    assert settings.rate == 10


def test_not_watching(live_settings_factory, livesettings_files):
    s = live_settings_factory(AppSettings, {"config/app.yaml": "rate: 3\\n"})
    assert not s.hot_reload.is_enabled() and s.rate == 3
    assert livesettings_files.write_and_wait(s, "config/app.yaml", "rate: 4\\n").number == 2


def test_override_restores(settings):
    with override(settings, {"rate": 99}):
        assert settings.rate == 99
    assert settings.rate == 10


def test_files_are_in_tmp_path(livesettings_files, tmp_path):
    assert livesettings_files.path == tmp_path
'''


class TestFixtures:
    """The fixtures work in a user's test file."""

    def test_fixtures_in_a_test_file(self, pytester: pytest.Pytester) -> None:
        """A test file using live_settings_factory, livesettings_files and override passes, all five tests."""
        pytester.makepyfile(plugin_demo_app=APP, test_app=USES_FIXTURES)
        pytester.makeini("[pytest]\nfilterwarnings = error\n")
        result = pytester.runpytest(*QUIET)
        result.assert_outcomes(passed=5)

    def test_objects_are_closed_at_teardown(self, pytester: pytest.Pytester) -> None:
        """What the factory built is closed after the test: no watcher thread survives it."""
        pytester.makepyfile(plugin_demo_app=APP)
        pytester.makepyfile(test_close='''
            import threading
            from plugin_demo_app import AppSettings

            KEPT = []

            def test_build(live_settings_factory):
                KEPT.append(live_settings_factory(AppSettings, {"config/app.yaml": "rate: 2\\n"}, watch=True))
                assert any(t.name.startswith("livesettings") for t in threading.enumerate())

            def test_closed_after():
                [s] = KEPT
                assert s._ls_engine.closed and not s.hot_reload.is_enabled()
        ''')
        result = pytester.runpytest(*QUIET)
        result.assert_outcomes(passed=2)

    def test_a_failing_wait_fails_the_test_clearly(self, pytester: pytest.Pytester) -> None:
        """A write that makes no version fails with a TimeoutError saying so (no hang)."""
        pytester.makepyfile(plugin_demo_app=APP)
        pytester.makepyfile(test_timeout='''
            from plugin_demo_app import AppSettings

            def test_same_content(live_settings_factory, livesettings_files):
                s = live_settings_factory(AppSettings, {"config/app.yaml": "rate: 2\\n"}, watch=True)
                livesettings_files.write_and_wait(s, "config/app.yaml", "rate: 2 # same\\n", timeout=0.3)
        ''')
        result = pytester.runpytest(*QUIET)
        result.assert_outcomes(failed=1)
        result.stdout.fnmatch_lines(["*TimeoutError: no new version of AppSettings within 0.3 s*"])


class TestRegistration:
    """The plugin is found through its entry point and stays out of the way."""

    def test_loaded_by_entry_point_in_a_fresh_process(self, pytester: pytest.Pytester) -> None:
        """A pytest subprocess with plugin autoload lists the plugin as ``livesettings`` and offers its fixtures."""
        pytester.makepyfile(test_registered='''
            def test_registered(request):
                plugin = request.config.pluginmanager.get_plugin("livesettings")
                assert plugin is not None and plugin.__name__ == "livesettings.pytest_plugin"
        ''')
        result = pytester.runpytest_subprocess(*QUIET)
        result.assert_outcomes(passed=1)
        fixtures = pytester.runpytest_subprocess(*QUIET, "--fixtures")
        fixtures.stdout.fnmatch_lines(["*live_settings_factory*", "*livesettings_files*"])

    def test_can_be_disabled(self, pytester: pytest.Pytester) -> None:
        """``-p no:livesettings`` turns it off: its fixtures are then unknown."""
        pytester.makepyfile(test_off='''
            def test_off(livesettings_files):
                pass
        ''')
        result = pytester.runpytest(*QUIET, "-p", "no:livesettings")
        result.assert_outcomes(errors=1)
        result.stdout.fnmatch_lines(["*fixture 'livesettings_files' not found*"])

    def test_registers_fixtures_and_no_hooks(self) -> None:
        """The module defines fixtures only: no pytest hook functions, nothing autouse."""
        import livesettings.pytest_plugin as plugin

        hooks = [name for name in vars(plugin) if name.startswith("pytest_")]
        assert hooks == []
        markers = [getattr(getattr(plugin, n), "_fixture_function_marker", None) for n in plugin.__all__]
        assert all(m is not None and not m.autouse for m in markers), markers

    def test_importing_it_loads_no_more_than_the_package(self) -> None:
        """Importing the plugin module adds nothing heavy beyond ``import livesettings`` itself."""
        code = textwrap.dedent('''
            import sys
            import pytest  # pytest loads the plugin: it is there already
            import livesettings
            before = set(sys.modules)
            import livesettings.pytest_plugin
            added = sorted(set(sys.modules) - before)
            print(added)
        ''')
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
        assert out.strip() == "['livesettings.pytest_plugin']"
