"""Settings classes reading etcd, a driver that plays the engine's part, and a fleet of real processes.

``Driven`` plays the engine's part by hand, for tests that look at one step at a time: start the
feed the source asked for, reload on each ``on_change()``, and hand the outcome to ``feed.report``
(with watching off, the engine itself starts no feed). Tests of the engine's own wiring use
``app_class(..., watch=True)`` instead.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from etcd_app import Db
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from livesettings import ReloadableSettings, ReloadConfig, ReloadError
from livesettings._etcd.feed import EtcdFeed, Mirror
from livesettings._etcd.source import mirrors
from livesettings._model import ReloadOutcome
from livesettings.sources import EtcdSource

HERE = Path(__file__).resolve().parent
MEMBER = HERE / "etcd_member.py"


def app_class(endpoint: str, prefix: str, *, watch: bool = False, **options: Any) -> type[ReloadableSettings]:
    """A ReloadableSettings class whose only non-default source is ``EtcdSource(prefix)``."""
    options.setdefault("progress_interval", 1.0)
    options.setdefault("ack_ttl", 5)

    class App(ReloadableSettings):
        reload_config = ReloadConfig(enabled=watch)
        port: int = 8000
        name: str = "app"
        api_token: int = 0
        db: Db = Db()

        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            return (init_settings, env_settings, EtcdSource(settings_cls, prefix, endpoint, **options))

    return App


class Driven:
    """A settings object whose etcd feed is driven the way the engine will drive it."""

    def __init__(self, settings: ReloadableSettings, *, instance: str | None = None) -> None:
        self.settings = settings
        self.engine = settings._ls_engine  # type: ignore[attr-defined]
        table = mirrors(self.engine.loader.reader)
        assert len(table) == 1, table
        self.mirror: Mirror = next(iter(table.values()))
        self.feed: EtcdFeed = self.mirror.new_feed()
        if instance is not None:
            self.feed.instance = instance
        self.outcomes: list[ReloadOutcome] = []
        self.delivered: list[int] = []  # the revision of each on_change call, in order

    def start(self) -> Driven:
        self.feed.start(self.on_change)
        return self

    def on_change(self) -> None:
        revision = self.mirror.current()
        assert revision is not None
        self.delivered.append(int(revision))
        try:
            version = self.settings.reload()
            result, error = ("applied" if version is not None else "unchanged"), None
        except ReloadError as exc:
            result, error = "rejected", str(exc)
        outcome = ReloadOutcome({self.feed.key: revision}, result, self.settings.version.id, error)
        self.outcomes.append(outcome)
        self.feed.report(outcome)

    def close(self) -> None:
        self.feed.close()
        self.settings.close()

    def __enter__(self) -> Driven:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Member:
    """One fleet process (``etcd_member.py``): its stdout lines are JSON events, read by a thread."""

    def __init__(self, endpoint: str, prefix: str, instance: str, *, mode: str = "driven") -> None:
        self.endpoint, self.prefix = endpoint, prefix
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")])
        self.instance = instance
        self.proc = subprocess.Popen(
            [sys.executable, str(MEMBER), endpoint, prefix, instance, mode],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True,
        )
        self.events: list[dict[str, Any]] = []
        self._stderr: str | None = None
        self._reader = threading.Thread(target=self._read, name=f"test-member-{instance}", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.strip():
                self.events.append(json.loads(line))

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in list(self.events) if e["event"] == kind]

    @property
    def ready(self) -> bool:
        return bool(self.of("ready"))

    def stop(self) -> str:
        """Close its stdin (it exits by itself) and wait; its stderr (idempotent)."""
        if self._stderr is not None:
            return self._stderr
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(timeout=5)
        assert self.proc.stderr is not None and self.proc.stdout is not None
        err = self.proc.stderr.read()
        self.proc.stderr.close()
        self.proc.stdout.close()
        self._stderr = err
        return err


class Fleet:
    """Several member processes; stopped together."""

    def __init__(self, endpoint: str, prefix: str, count: int, *, mode: str = "driven") -> None:
        self.members = [Member(endpoint, prefix, f"m{i}", mode=mode) for i in range(count)]

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not all(m.ready for m in self.members):
            dead = [m for m in self.members if m.proc.poll() is not None]
            if dead:
                raise AssertionError(f"member {dead[0].instance} exited: {dead[0].stop()}")
            if time.monotonic() > deadline:
                raise AssertionError("the fleet did not start")
            time.sleep(0.02)

    def stop(self) -> list[str]:
        return [m.stop() for m in self.members]

    def __enter__(self) -> Fleet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
