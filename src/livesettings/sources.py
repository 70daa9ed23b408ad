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

``EtcdSource`` reads a prefix of etcd keys and follows it live (see "Running a fleet"); it needs
the ``etcd`` extra (``pip install 'livesettings[etcd]'``) and is imported only when first used.

Added in 0.1. ``EtcdSource`` added in 0.2.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._sources import DotEnvSource as DotEnvSource
from ._sources import EnvSource as EnvSource
from ._sources import JsonSource as JsonSource
from ._sources import TomlSource as TomlSource
from ._sources import YamlSource as YamlSource

if TYPE_CHECKING:
    from ._etcd.source import EtcdSource as EtcdSource

__all__ = ["DotEnvSource", "EnvSource", "EtcdSource", "JsonSource", "TomlSource", "YamlSource"]

_ETCD_EXTRA = "livesettings[etcd]"


def __getattr__(name: str) -> Any:
    """Import ``EtcdSource`` on first use, so that importing this module never imports etcd3gw."""
    if name == "EtcdSource":
        try:
            from ._etcd.source import EtcdSource
        except ImportError as exc:
            missing = exc.name or ""
            if missing.split(".")[0] in ("etcd3gw", "requests", "urllib3"):
                raise ImportError(
                    f"EtcdSource needs etcd3gw, which is not installed: pip install '{_ETCD_EXTRA}'", name=missing
                ) from exc
            raise
        globals()["EtcdSource"] = EtcdSource
        return EtcdSource
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
