"""The pytest plugin: fixtures for testing code that uses livesettings.

Installed with livesettings and loaded by pytest through its ``pytest11`` entry point (named
``livesettings``; ``-p no:livesettings`` turns it off). It registers fixtures and nothing else:
no hooks, no options, no autouse fixtures, so it changes no other test. Importing it imports
nothing of livesettings' own beyond the package; the fixtures import
[livesettings.testing][livesettings.testing] when a test asks for one.

Fixtures:

* ``livesettings_files``: a [LiveFiles][livesettings.testing.LiveFiles] on the test's
  ``tmp_path``: ``write(name, text)`` replaces a file atomically,
  ``write_and_wait(settings, name, text)`` also waits for the version it makes (on an event,
  never a sleep) and returns it, or raises the ``ReloadError`` that rejected it or
  ``TimeoutError``.
* ``live_settings_factory``: a [SettingsFactory][livesettings.testing.SettingsFactory]:
  ``live_settings_factory(AppSettings, {"config.yaml": "..."}, watch=True)`` writes the files and
  builds the settings object reading them from ``livesettings_files.path`` instead of the paths
  in its ``model_config``, with hot reload on (``watch=True``) or off (the default). Every
  object it built is closed when the test ends.

Example:
    ```python
    def test_level_follows_the_file(live_settings_factory, livesettings_files):
        settings = live_settings_factory(AppSettings, {"config.yaml": "level: INFO\\n"}, watch=True)
        version = livesettings_files.write_and_wait(settings, "config.yaml", "level: DEBUG\\n")
        assert settings.level == "DEBUG" and version.changes[0].path == "level"
    ```

Added in 0.3.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .testing import LiveFiles, SettingsFactory

__all__ = ["live_settings_factory", "livesettings_files"]


@pytest.fixture
def livesettings_files(tmp_path: Path) -> LiveFiles:
    """A [LiveFiles][livesettings.testing.LiveFiles] directory for the test's config files (its ``tmp_path``)."""
    from .testing import LiveFiles  # noqa: PLC0415 - the plugin stays cheap to import

    return LiveFiles(tmp_path)


@pytest.fixture
def live_settings_factory(livesettings_files: LiveFiles) -> Iterator[SettingsFactory]:
    """A [SettingsFactory][livesettings.testing.SettingsFactory] on ``livesettings_files``; what it builds is closed at teardown."""
    from .testing import SettingsFactory  # noqa: PLC0415 - the plugin stays cheap to import

    factory = SettingsFactory(livesettings_files)
    try:
        yield factory
    finally:
        factory.close()
