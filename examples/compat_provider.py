"""The original design brief's API: an untyped provider, ``subscribe``, ``watch_value``, history and rollback.

``HotReloadableConfigProvider`` reads ``config/base.yaml``, ``config/{environment}.yaml``,
``.env``, ``.env.{environment}`` and environment variables, answers dotted-key ``get`` calls,
and follows its files.
It runs on the same engine as ``ReloadableSettings``.
Run it from anywhere: ``python examples/compat_provider.py``.
"""

from __future__ import annotations

import logging
import shutil
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from livesettings import ConfigSubscriber, HotReloadableConfigProvider, ReloadConfig


class ApiClient(ConfigSubscriber):
    """A component that follows ``api.*``: called once per leaf change, and told about rejected reloads."""

    def __init__(self) -> None:
        self.timeout = 0
        self.notified = threading.Event()

    def on_config_change(self, path: str, old_value: Any, new_value: Any) -> None:
        print(f"  ApiClient.on_config_change({path!r}, {old_value!r}, {new_value!r})")
        if path == "api.timeout":
            self.timeout = new_value
        self.notified.set()

    def on_reload_error(self, error: Exception) -> None:
        print(f"  ApiClient.on_reload_error: {str(error).splitlines()[-1].strip()}")
        self.notified.set()


def main() -> int:
    logging.basicConfig(stream=sys.stdout, level=logging.WARNING, format="  [%(name)s] %(message)s")
    root = Path(tempfile.mkdtemp(prefix="livesettings-compat-"))
    try:
        config_dir = root / "config"
        config_dir.mkdir()
        (config_dir / "base.yaml").write_text(
            "api:\n  timeout: 10\n  retries: 3\ndatabase:\n  pool_size: 5\n"
        )
        (config_dir / "development.yaml").write_text("api:\n  timeout: 30\n")
        (root / ".env").write_text("DATABASE__HOST=localhost\n")

        config = HotReloadableConfigProvider(
            config_dir=config_dir,
            environment="development",
            env_dir=root,
            enable_hot_reload=True,
            reload_config=ReloadConfig(debounce_ms=50),
        )
        with config:
            print("merged from base.yaml, development.yaml and .env:")
            for key in ("api.timeout", "api.retries", "database.pool_size", "database.host"):
                print(f"  config.get({key!r}) = {config.get(key)!r}")
            print(f"  config.get('api.missing', 'default') = {config.get('api.missing', 'default')!r}")

            client = ApiClient()
            config.hot_reload.subscribe("api", client)
            pool_sizes: list[int] = []
            pool_changed = threading.Event()

            def on_pool_size(new_size: int) -> None:
                pool_sizes.append(new_size)
                pool_changed.set()

            handle = config.watch_value("database.pool_size", on_pool_size)

            print("edit config/development.yaml: api.timeout 30 -> 45, database.pool_size 5 -> 12")
            (config_dir / "development.yaml").write_text("api:\n  timeout: 45\ndatabase:\n  pool_size: 12\n")
            if not (client.notified.wait(10) and pool_changed.wait(10)):
                print("the change was not picked up within 10 s", file=sys.stderr)
                return 1
            print(f"  watch_value callback got {pool_sizes}; get_with_reload('api.timeout') = "
                  f"{config.get_with_reload('api.timeout')}")

            print("break the YAML: the reload is rejected and the last good config keeps serving")
            client.notified.clear()
            (config_dir / "development.yaml").write_text("api:\n  timeout: [45\n")
            if not client.notified.wait(10):
                print("the rejected change was not reported within 10 s", file=sys.stderr)
                return 1
            print(f"  config.get('api.timeout') = {config.get('api.timeout')}")

            print("config.hot_reload.get_version_history():")
            for version in config.hot_reload.get_version_history():
                changes = ", ".join(c.describe() for c in version.changes) or "-"
                print(f"  {version.id}  {version.source:<8} {changes}")

            print("config.hot_reload.rollback()")
            handle.cancel()  # watch_value handles cancel like subscriptions
            config.hot_reload.rollback()
            print(f"  config.get('api.timeout') = {config.get('api.timeout')}, "
                  f"ApiClient.timeout = {client.timeout}")
        return 0
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
