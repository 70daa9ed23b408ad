"""Tests for change notification: @on_change, watch(), error callbacks and the notifier itself."""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from pydantic_settings import SettingsConfigDict

from livesettings import (
    Change,
    ChangeType,
    DeadLetter,
    Diff,
    ReloadableSettings,
    ReloadConfig,
    ReloadError,
    Version,
    on_change,
)
from livesettings.components import ConfigChangeNotifier

OFF = ReloadConfig(enabled=False)
TIMEOUT = 10.0


class Database(BaseModel):
    host: str = "h"
    pool_size: int = 5


class Logging(BaseModel):
    level: str = "INFO"


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text("database: {host: h, pool_size: 5}\nlogging: {level: INFO}\nport: 1\n")
    return path


def write(cfg: Path, *, host: str = "h", pool_size: int = 5, level: str = "INFO", port: int = 1) -> None:
    cfg.write_text(
        f"database: {{host: {host}, pool_size: {pool_size}}}\nlogging: {{level: {level}}}\nport: {port}\n"
    )


def base(cfg: Path) -> type[ReloadableSettings]:
    class Base(ReloadableSettings):
        model_config = SettingsConfigDict(yaml_file=str(cfg), env_prefix="APP_")
        reload_config = OFF
        database: Database = Database()
        logging: Logging = Logging()
        port: int = 0

    return Base


class TestOnChange:
    """``@on_change`` handlers on a settings class."""

    def test_handler_gets_a_diff(self, cfg: Path) -> None:
        """A handler receives the subscribed path's old and new value and the leaf changes."""
        got: list[Diff] = []

        class App(base(cfg)):  # type: ignore[misc]
            @on_change("logging.level")
            def _level(self, diff: Diff) -> None:
                got.append(diff)

        with App() as s:
            write(cfg, level="DEBUG")
            v = s.reload()
            assert len(got) == 1
            d = got[0]
            assert (d.path, d.old_value, d.new_value) == ("logging.level", "INFO", "DEBUG")
            assert d.changes == (Change("logging.level", ChangeType.MODIFY, "INFO", "DEBUG"),)
            assert d.version is v

    def test_section_subscription_sees_changes_below(self, cfg: Path) -> None:
        """A handler on a section runs for a change under it and gets the section objects."""
        got: list[Diff] = []

        class App(base(cfg)):  # type: ignore[misc]
            @on_change("database")
            def _db(self, diff: Diff) -> None:
                got.append(diff)

        with App() as s:
            old = s.database
            write(cfg, pool_size=9)
            s.reload()
            assert len(got) == 1
            assert got[0].old_value is old and got[0].new_value is s.database
            assert got[0].paths == ("database.pool_size",)

    def test_unrelated_change_does_not_call(self, cfg: Path) -> None:
        """A handler is not called for changes outside its paths (including sibling prefixes)."""
        calls: list[Diff] = []

        class App(base(cfg)):  # type: ignore[misc]
            @on_change("database.host")
            def _host(self, diff: Diff) -> None:
                calls.append(diff)

        with App() as s:
            write(cfg, pool_size=6, port=3)
            assert s.reload() is not None
            assert calls == []

    def test_path_no_field_reaches_is_refused_at_class_creation(self, cfg: Path) -> None:
        """``@on_change`` on a path no field can reach is a ValueError naming the closest field."""
        with pytest.raises(ValueError, match=r"@on_change\('database.pool'\).*did you mean 'pool_size'"):

            class App(base(cfg)):  # type: ignore[misc]
                @on_change("database.pool")
                def _pool(self, diff: Diff) -> None: ...

    def test_multiple_paths_one_call_per_version(self, cfg: Path) -> None:
        """A handler on several paths is called once per version with every matching change."""
        got: list[Diff] = []

        class App(base(cfg)):  # type: ignore[misc]
            @on_change("port", "database.pool_size", "logging")
            def _many(self, diff: Diff) -> None:
                got.append(diff)

        with App() as s:
            write(cfg, pool_size=6, port=2, level="ERROR")
            s.reload()
            assert len(got) == 1
            assert set(got[0].paths) == {"port", "database.pool_size", "logging.level"}
            write(cfg, pool_size=6, port=3, level="ERROR")
            s.reload()
            assert len(got) == 2 and got[1].paths == ("port",)

    def test_no_path_means_any_change(self, cfg: Path) -> None:
        """``@on_change`` without paths (with or without parentheses) runs for every change."""
        bare: list[Diff] = []
        empty: list[Diff] = []

        class App(base(cfg)):  # type: ignore[misc]
            @on_change
            def _bare(self, diff: Diff) -> None:
                bare.append(diff)

            @on_change()
            def _empty(self, diff: Diff) -> None:
                empty.append(diff)

        with App() as s:
            write(cfg, port=5)
            s.reload()
            write(cfg, port=5, host="x")
            s.reload()
            assert [d.paths for d in bare] == [("port",), ("database.host",)]
            assert [d.paths for d in empty] == [("port",), ("database.host",)]
            assert bare[0].path == "" and bare[0].new_value == s.history[1].snapshot

    def test_registration_order(self, cfg: Path) -> None:
        """Handlers run in the order they were defined, base class first, then watch() subscriptions."""
        order: list[str] = []

        class Parent(base(cfg)):  # type: ignore[misc]
            @on_change("port")
            def _b(self, diff: Diff) -> None:
                order.append("parent")

        class Child(Parent):
            @on_change("port")
            def _z(self, diff: Diff) -> None:
                order.append("child-1")

            @on_change
            def _a(self, diff: Diff) -> None:
                order.append("child-2")

        with Child() as s:
            s.watch("port", lambda d: order.append("watch"))
            write(cfg, port=2)
            s.reload()
            assert order == ["parent", "child-1", "child-2", "watch"]

    def test_no_call_when_nothing_changed(self, cfg: Path) -> None:
        """Rewriting the same bytes or touching the file calls no handler."""
        calls: list[Diff] = []

        class App(base(cfg)):  # type: ignore[misc]
            @on_change
            def _any(self, diff: Diff) -> None:
                calls.append(diff)

        with App() as s:
            write(cfg)
            assert s.reload() is None
            cfg.touch()
            assert s.reload() is None
            cfg.write_text(cfg.read_text() + "# only a comment\n")
            assert s.reload() is None
            assert calls == [] and len(s.history) == 1

    def test_failing_handler_does_not_stop_others(self, cfg: Path, caplog: pytest.LogCaptureFixture) -> None:
        """A raising handler is logged with its traceback, dead-lettered, and the others still run."""
        ran: list[str] = []

        class App(base(cfg)):  # type: ignore[misc]
            @on_change("port")
            def _first(self, diff: Diff) -> None:
                ran.append("first")
                raise ValueError("handler exploded")

            @on_change("port")
            def _second(self, diff: Diff) -> None:
                ran.append("second")

        with App() as s:
            write(cfg, port=2)
            v = s.reload()
            assert v is not None and s.port == 2
            assert ran == ["first", "second"]
            (letter,) = s.hot_reload.dead_letters
            assert isinstance(letter, DeadLetter)
            assert isinstance(letter.error, ValueError)
            assert letter.version_id == v.id and letter.paths == ("port",)
            assert "_first" in letter.handler
            assert "Traceback" in letter.traceback and "handler exploded" in letter.traceback
            records = [r for r in caplog.records if r.exc_info and "handler exploded" in str(r.exc_info[1])]
            assert len(records) == 1 and records[0].levelno == logging.WARNING

    def test_critical_handler_failure_rolls_back(self, cfg: Path) -> None:
        """If a critical handler raises, the version is rolled back and the previous values serve again."""
        seen: list[int] = []

        class App(base(cfg)):  # type: ignore[misc]
            @on_change("port", critical=True)
            def _apply(self, diff: Diff) -> None:
                seen.append(diff.new_value)
                if diff.new_value == 13:
                    raise RuntimeError("cannot apply 13")

        with App() as s:
            write(cfg, port=2)
            s.reload()
            write(cfg, port=13)
            bad = s.reload()
            assert bad is not None
            assert s.port == 2
            assert s.version.source == "rollback" and s.version.restores == s.history[1].id
            assert s.version.reason is not None and "cannot apply 13" in s.version.reason
            assert seen == [2, 13, 2]
            assert s.reload() is None and s.port == 2  # the rejected files are not re-applied

    def test_non_critical_failure_keeps_the_version(self, cfg: Path) -> None:
        """A failing ordinary handler leaves the new version in place."""

        class App(base(cfg)):  # type: ignore[misc]
            @on_change("port")
            def _apply(self, diff: Diff) -> None:
                raise RuntimeError("nope")

        with App() as s:
            write(cfg, port=13)
            s.reload()
            assert s.port == 13 and s.version.source == "reload"

    def test_handler_may_call_back_into_settings(self, cfg: Path) -> None:
        """A handler that calls reload(), reads history and rolls back does not deadlock."""
        seen: list[Any] = []

        class App(base(cfg)):  # type: ignore[misc]
            @on_change("port")
            def _reenter(self, diff: Diff) -> None:
                seen.append((len(self.history), self.reload(), self.version.id, self.check().is_valid))

        with App() as s:
            worker = threading.Thread(target=lambda: (write(cfg, port=2), s.reload()), daemon=True)
            worker.start()
            worker.join(TIMEOUT)
            assert not worker.is_alive(), "reload() deadlocked inside a handler"
            assert seen and seen[0][0] == 2 and seen[0][1] is None

    def test_handlers_run_without_the_engine_lock(self, cfg: Path) -> None:
        """While a handler runs, another thread can read history and reload without waiting."""
        other_done: list[bool] = []

        class App(base(cfg)):  # type: ignore[misc]
            @on_change("port")
            def _probe(self, diff: Diff) -> None:
                t = threading.Thread(
                    target=lambda: other_done.append((self.history, self.reload()) is not None), daemon=True
                )
                t.start()
                t.join(TIMEOUT)
                other_done.append(not t.is_alive())

        with App() as s:
            write(cfg, port=2)
            s.reload()
            assert other_done == [True, True]

    def test_subclass_inherits_handlers(self, cfg: Path) -> None:
        """Handlers defined on a base settings class run for instances of a subclass."""
        got: list[str] = []

        class Parent(base(cfg)):  # type: ignore[misc]
            @on_change("port")
            def _p(self, diff: Diff) -> None:
                got.append("p")

        class Child(Parent):
            extra: int = 0

        with Child() as s:
            write(cfg, port=4)
            s.reload()
            assert got == ["p"]

    def test_handler_is_bound_to_its_own_instance(self, cfg: Path) -> None:
        """Two settings objects of one class each call their own handler with self."""
        owners: list[Any] = []

        class App(base(cfg)):  # type: ignore[misc]
            @on_change("port")
            def _who(self, diff: Diff) -> None:
                owners.append(self)

        with App() as a, App() as b:
            write(cfg, port=8)
            a.reload()
            b.reload()
            assert owners == [a, b]

    def test_settings_object_can_be_collected(self, cfg: Path) -> None:
        """Handlers do not keep their settings object alive."""

        class App(base(cfg)):  # type: ignore[misc]
            @on_change("port")
            def _h(self, diff: Diff) -> None:
                pass

        import weakref

        s = App()
        ref = weakref.ref(s)
        del s
        gc.collect()
        assert ref() is None

    def test_on_change_rejects_non_string_paths(self) -> None:
        """on_change(42) is a TypeError."""
        with pytest.raises(TypeError):
            on_change("ok", 42)  # type: ignore[call-overload]


class TestAsyncHandlers:
    """``async def`` handlers."""

    def test_without_a_loop_runs_to_completion(self, cfg: Path) -> None:
        """An async handler registered outside any loop has finished when reload() returns."""
        done: list[int] = []

        class App(base(cfg)):  # type: ignore[misc]
            @on_change("port")
            async def _h(self, diff: Diff) -> None:
                await asyncio.sleep(0)
                done.append(diff.new_value)

        with App() as s:
            write(cfg, port=3)
            s.reload()
            assert done == [3]

    def test_runs_on_the_loop_it_was_registered_from(self, cfg: Path) -> None:
        """Settings built inside a running loop on another thread deliver async handlers on that loop."""
        ran_on: list[tuple[str, int]] = []
        finished = threading.Event()

        class App(base(cfg)):  # type: ignore[misc]
            @on_change("port")
            async def _h(self, diff: Diff) -> None:
                await asyncio.sleep(0)
                ran_on.append((threading.current_thread().name, diff.new_value))
                finished.set()

        made = threading.Event()
        box: dict[str, Any] = {}

        def run_loop() -> None:
            loop = asyncio.new_event_loop()
            box["loop"] = loop

            async def build() -> None:
                box["settings"] = App()
                made.set()

            loop.run_until_complete(build())
            loop.run_forever()
            loop.close()

        t = threading.Thread(target=run_loop, name="user-loop-thread")
        t.start()
        try:
            assert made.wait(TIMEOUT)
            write(cfg, port=4)
            box["settings"].reload()
            assert finished.wait(TIMEOUT)
            assert ran_on == [("user-loop-thread", 4)]
        finally:
            box["loop"].call_soon_threadsafe(box["loop"].stop)
            t.join(TIMEOUT)
            box["settings"].close()

    def test_failing_async_handler_is_dead_lettered(self, cfg: Path) -> None:
        """An async handler that raises ends up in the dead letters."""

        class App(base(cfg)):  # type: ignore[misc]
            @on_change("port")
            async def _h(self, diff: Diff) -> None:
                raise KeyError("async boom")

        with App() as s:
            write(cfg, port=3)
            s.reload()
            assert [type(d.error) for d in s.hot_reload.dead_letters] == [KeyError]


class TestWatch:
    """``settings.watch(path, callback)`` and its handle."""

    def test_watch_and_cancel(self, cfg: Path) -> None:
        """watch() delivers Diffs until the handle is cancelled."""
        got: list[Diff] = []
        with base(cfg)() as s:
            handle = s.watch("database.pool_size", got.append)
            assert handle.active and handle.path == "database.pool_size"
            write(cfg, pool_size=6)
            s.reload()
            handle.cancel()
            handle.cancel()  # idempotent
            assert not handle.active
            write(cfg, pool_size=7)
            s.reload()
            assert [(d.old_value, d.new_value) for d in got] == [(5, 6)]

    def test_handle_as_context_manager(self, cfg: Path) -> None:
        """Leaving a handle's with-block cancels it."""
        got: list[Diff] = []
        with base(cfg)() as s:
            with s.watch("port", got.append):
                write(cfg, port=2)
                s.reload()
            write(cfg, port=3)
            s.reload()
            assert len(got) == 1

    def test_cancel_from_inside_the_callback(self, cfg: Path) -> None:
        """A callback may cancel its own subscription."""
        got: list[Diff] = []
        with base(cfg)() as s:
            box: dict[str, Any] = {}

            def once(diff: Diff) -> None:
                got.append(diff)
                box["h"].cancel()

            box["h"] = s.watch("port", once)
            for port in (2, 3):
                write(cfg, port=port)
                s.reload()
            assert len(got) == 1

    def test_watch_everything(self, cfg: Path) -> None:
        """watch("") sees every change."""
        got: list[Diff] = []
        with base(cfg)() as s:
            s.watch("", got.append)
            write(cfg, level="WARNING", port=9)
            s.reload()
            assert got[0].paths == ("logging.level", "port")


class TestPathsBelowALeaf:
    """Subscriptions to paths below a reported leaf (list items, keys of a value that became a mapping)."""

    @pytest.fixture
    def lists(self, tmp_path: Path) -> Any:
        cfg = tmp_path / "c.yaml"
        cfg.write_text("hosts: [a, b]\nextra: {mode: off}\n")

        class App(ReloadableSettings):
            model_config = SettingsConfigDict(yaml_file=str(cfg), env_prefix="APP_")
            reload_config = OFF
            hosts: list[str] = []
            extra: dict[str, Any] = {}

        with App() as s:
            yield s, cfg

    def test_list_item(self, lists: Any) -> None:
        """watch("hosts.0") fires when the first host changes, and not for a change of another item."""
        s, cfg = lists
        first: list[Diff] = []
        second: list[Diff] = []
        s.watch("hosts.0", first.append)
        s.watch("hosts.1", second.append)
        cfg.write_text("hosts: [c, b]\nextra: {mode: off}\n")
        s.reload()
        assert [(d.old_value, d.new_value) for d in first] == [("a", "c")]
        assert first[0].changes == (Change("hosts.0", ChangeType.MODIFY, "a", "c"),)
        assert second == []

    def test_list_item_appearing(self, lists: Any) -> None:
        """A list growing a new item is an ADD for a subscriber to that index."""
        s, cfg = lists
        calls: list[tuple[str, Any, Any]] = []
        s.hot_reload.subscribe("hosts.2", lambda *args: calls.append(args))
        cfg.write_text("hosts: [a, b, z]\nextra: {mode: off}\n")
        s.reload()
        assert calls == [("hosts.2", None, "z")]

    def test_key_under_a_value_that_became_a_mapping(self, lists: Any) -> None:
        """A leaf replaced by a mapping reaches subscribers of keys inside the new mapping."""
        s, cfg = lists
        got: list[Diff] = []
        s.watch("extra.mode.level", got.append)
        cfg.write_text("hosts: [a, b]\nextra: {mode: {level: 3}}\n")
        s.reload()
        assert [d.changes for d in got] == [(Change("extra.mode.level", ChangeType.ADD, None, 3),)]


class TestErrorCallbacks:
    """``settings.hot_reload.on_error``."""

    def test_called_for_each_rejected_reload(self, cfg: Path) -> None:
        """Error callbacks get the ReloadError; the remover stops them."""
        errors: list[BaseException] = []
        with base(cfg)() as s:
            remove = s.hot_reload.on_error(errors.append)
            cfg.write_text("port: [unclosed\n")
            with pytest.raises(ReloadError) as info:
                s.reload()
            assert errors == [info.value]
            remove()
            cfg.write_text("port: notanumber\n")
            with pytest.raises(ReloadError):
                s.reload()
            assert len(errors) == 1

    def test_raising_error_callback_is_contained(self, cfg: Path) -> None:
        """An error callback that raises does not replace the ReloadError."""
        with base(cfg)() as s:

            def bad(err: BaseException) -> None:
                raise RuntimeError("callback broke")

            s.hot_reload.on_error(bad)
            cfg.write_text("port: x\n")
            with pytest.raises(ReloadError):
                s.reload()


def _version(n: int) -> Version:
    return Version(f"v{n}", datetime.now(timezone.utc), "reload", (), number=n)


@pytest.fixture
def notifier() -> Iterator[ConfigChangeNotifier]:
    yield ConfigChangeNotifier()


class TestNotifier:
    """``ConfigChangeNotifier`` used directly."""

    def test_leaf_style_calls_once_per_leaf(self, notifier: ConfigChangeNotifier) -> None:
        """A "leaf" subscriber gets (path, old, new) for every leaf change under its path."""
        calls: list[tuple[str, Any, Any]] = []
        notifier.subscribe("a", lambda *args: calls.append(args), style="leaf")
        changes = (
            Change("a.x", ChangeType.MODIFY, 1, 2),
            Change("a.y", ChangeType.ADD, None, 3),
            Change("b", ChangeType.DELETE, 1, None),
        )
        notifier.publish(_version(1), {}, {}, changes)
        assert calls == [("a.x", 1, 2), ("a.y", None, 3)]

    def test_unknown_style_and_non_callable(self, notifier: ConfigChangeNotifier) -> None:
        """Bad arguments to subscribe are rejected."""
        with pytest.raises(ValueError):
            notifier.subscribe("a", print, style="weird")
        with pytest.raises(TypeError):
            notifier.subscribe("a", 42)  # type: ignore[arg-type]

    def test_counts_subscriptions(self, notifier: ConfigChangeNotifier) -> None:
        """len() counts subscriptions, not paths."""
        h = notifier.subscribe(["a", "b"], print)
        notifier.subscribe("a", print)
        assert len(notifier) == 2
        notifier.unsubscribe(h)
        notifier.unsubscribe(h)
        assert len(notifier) == 1

    def test_subscribe_from_inside_a_handler(self, notifier: ConfigChangeNotifier) -> None:
        """A handler may add a subscription; it takes effect from the next version."""
        late: list[Diff] = []
        notifier.subscribe("a", lambda d: notifier.subscribe("a", late.append))
        change = (Change("a", ChangeType.MODIFY, 1, 2),)
        notifier.publish(_version(1), {"a": 1}, {"a": 2}, change)
        assert late == []
        notifier.publish(_version(2), {"a": 1}, {"a": 2}, change)
        assert len(late) == 1

    def test_dead_owner_of_a_weak_method_is_skipped(self, notifier: ConfigChangeNotifier) -> None:
        """A weakly held bound method whose object is gone is skipped silently."""
        calls: list[int] = []

        class Owner:
            def handler(self, diff: Diff) -> None:
                calls.append(1)

        owner = Owner()
        notifier.subscribe("a", owner.handler, weak=True)
        del owner
        gc.collect()
        notifier.publish(_version(1), {}, {}, (Change("a", ChangeType.ADD, None, 1),))
        assert calls == [] and not notifier.dead_letters

    def test_dead_letters_are_bounded(self) -> None:
        """Only the most recent dead letters are kept."""
        n = ConfigChangeNotifier(max_dead_letters=3)

        def bad(diff: Diff) -> None:
            raise RuntimeError(diff.version.id if diff.version else "?")

        n.subscribe("", bad)
        for i in range(5):
            n.publish(_version(i), {}, {}, (Change("a", ChangeType.ADD, None, i),))
        assert [d.version_id for d in n.dead_letters] == ["v2", "v3", "v4"]

    def test_drain_delivers_in_queue_order(self, notifier: ConfigChangeNotifier) -> None:
        """Queued versions are delivered in the order they were committed."""
        order: list[str] = []
        notifier.subscribe("", lambda d: order.append(d.version.id if d.version else "?"))
        for i in range(5):
            notifier.enqueue(_version(i), {}, {}, (Change("a", ChangeType.ADD, None, i),))
        notifier.drain()
        assert order == ["v0", "v1", "v2", "v3", "v4"]

    def test_critical_failure_is_reported_to_drain(self, notifier: ConfigChangeNotifier) -> None:
        """drain() hands the first critical failure of a version to its callback."""
        failures: list[tuple[str, str]] = []

        def bad(diff: Diff) -> None:
            raise RuntimeError("x")

        notifier.subscribe("", bad, critical=True)
        notifier.enqueue(_version(1), {}, {}, (Change("a", ChangeType.ADD, None, 1),))
        notifier.drain(lambda v, letter: failures.append((v.id, type(letter.error).__name__)))
        assert failures == [("v1", "RuntimeError")]
