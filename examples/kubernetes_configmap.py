"""A Kubernetes ConfigMap update, simulated: kubelet swaps the ``..data`` symlink and livesettings follows.

A ConfigMap mounted as a volume is a directory like this::

    /etc/app/
        ..2024_05_01_10_00_00.1/app.yaml   the real files, one directory per update
        ..data -> ..2024_05_01_10_00_00.1  swapped atomically by kubelet on each update
        app.yaml -> ..data/app.yaml        what the application opens

This script builds that layout in a temporary directory, runs in production with the explicit
opt-in (so only ``Live`` fields change live), publishes an update the way kubelet does, and
shows what changed live and what waits for a restart.
Run it from anywhere: ``python examples/kubernetes_configmap.py``.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import tempfile
import threading
from pathlib import Path
from typing import Annotated

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from livesettings import Diff, Live, ReloadableSettings, ReloadConfig, on_change

# Production: watching is off unless the class opts in, and then only Live fields change live.
os.environ["LIVESETTINGS_ENV"] = "production"

MOUNT = Path(tempfile.mkdtemp(prefix="livesettings-k8s-")) / "etc-app"
updated = threading.Event()
FIRST = "rate_limit: 100\nfeature_flags:\n  new_checkout: false\nworkers: 4\n"
SECOND = "rate_limit: 250\nfeature_flags:\n  new_checkout: true\nworkers: 8\n"


def publish(mount: Path, stamp: str, content: str) -> None:
    """Do what kubelet does: write a new timestamped directory, then swap ``..data`` onto it."""
    mount.mkdir(exist_ok=True)
    new_dir = mount / f"..{stamp}"
    new_dir.mkdir()
    (new_dir / "app.yaml").write_text(content)
    data = mount / "..data"
    old_dir = os.readlink(data) if data.is_symlink() else None
    os.symlink(new_dir.name, mount / "..data_tmp")
    os.replace(mount / "..data_tmp", data)  # the atomic swap
    if not (mount / "app.yaml").is_symlink():
        os.symlink("..data/app.yaml", mount / "app.yaml")
    if old_dir is not None:
        shutil.rmtree(mount / old_dir)


class AppSettings(ReloadableSettings):
    model_config = SettingsConfigDict(yaml_file=str(MOUNT / "app.yaml"))
    reload_config = ReloadConfig(enabled=True, allow_in_production=True, debounce_ms=50)

    rate_limit: Annotated[int, Live] = 100  # may change live, even in production
    feature_flags: Annotated[dict[str, bool], Live] = Field(default_factory=dict)
    workers: int = 4  # not Live: in production a change waits for the next restart

    @on_change
    def _changed(self, diff: Diff) -> None:
        updated.set()


def show(settings: AppSettings) -> None:
    flags = settings.feature_flags
    print(f"  rate_limit={settings.rate_limit} feature_flags={flags} workers={settings.workers}")


def main() -> int:
    # Show the audit trail (logger "livesettings.audit") and livesettings' warnings.
    logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="  [%(name)s] %(message)s")
    try:
        publish(MOUNT, "2024_05_01_10_00_00.1", FIRST)
        with AppSettings() as settings:
            print(f"ConfigMap mounted at {MOUNT}")
            show(settings)
            print(f"  watching in production (opted in): {settings.hot_reload.is_enabled()}")

            print("kubelet publishes an update (new ..data target, atomic symlink swap)")
            publish(MOUNT, "2024_05_01_10_05_00.2", SECOND)
            if not updated.wait(10):
                print("the update was not picked up within 10 s", file=sys.stderr)
                return 1
            print("  applied live:")
            for change in settings.version.changes:
                print(f"    {change.describe()}")
            print("  waiting for a restart (pending_restart):")
            for change in settings.pending_restart.values():
                print(f"    {change.describe()}")
            show(settings)
            print(f"  files in the mount: {sorted(os.listdir(MOUNT))}")
        return 0
    finally:
        shutil.rmtree(MOUNT.parent, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
