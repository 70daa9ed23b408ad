"""Sources for ``settings_customise_sources``: pydantic-settings' own, read through livesettings.

livesettings swaps pydantic-settings' stock YAML, TOML, JSON, dotenv and env sources for these
subclasses automatically, also inside a ``settings_customise_sources`` you write. Use them
directly when you build sources yourself and want to say so::

    from livesettings.sources import YamlSource

    class AppSettings(ReloadableSettings):
        @classmethod
        def settings_customise_sources(cls, settings_cls, init_settings, env_settings,
                                       dotenv_settings, file_secret_settings):
            return (init_settings, env_settings, YamlSource(settings_cls, yaml_file="base.yaml"))

Every file they read is trust-checked, hashed (unchanged bytes are not parsed again), parsed
strictly (libyaml when available; duplicate keys, alias bombs and deep nesting rejected) and
remembered for error messages that name the file, line and column.

Added in 0.1.
"""

from __future__ import annotations

from ._sources import DotEnvSource as DotEnvSource
from ._sources import EnvSource as EnvSource
from ._sources import JsonSource as JsonSource
from ._sources import TomlSource as TomlSource
from ._sources import YamlSource as YamlSource

__all__ = ["DotEnvSource", "EnvSource", "JsonSource", "TomlSource", "YamlSource"]
