"""End to end: real files edited the way editors, deploy tools and the kubelet do; real watcher threads."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from conftest import kubelet_mount, kubelet_swap, wait_for
from livesettings import Diff, ReloadableSettings, ReloadConfig, Version, on_change
from livesettings.exceptions import SourceMissingError

FAST = ReloadConfig(debounce_ms=20, max_wait_ms=200, breaker_cooldown_s=0.2)


def make_settings(yaml: Path, config: ReloadConfig = FAST, **extra_config: Any) -> type[ReloadableSettings]:
    class Settings(ReloadableSettings):
        model_config = SettingsConfigDict(yaml_file=str(yaml), **extra_config)
        reload_config = config
        level: str = "INFO"
        count: int = 0

        @on_change
        def _record(self, diff: Diff) -> None:
            seen.append(diff)

    seen: list[Diff] = []
    Settings.seen = seen  # type: ignore[attr-defined]
    return Settings


def atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


@pytest.fixture
def conf(tmp_path: Path) -> Path:
    d = tmp_path / "conf"
    d.mkdir()
    (d / "app.yaml").write_text("level: INFO\ncount: 0\n")
    return d / "app.yaml"


class TestSaves:
    """Each way of saving a file ends with the new config applied once."""

    def test_atomic_rename(self, conf: Path) -> None:
        """tmp + os.replace is applied and the handler gets the exact diff."""
        with make_settings(conf)() as s:
            atomic_write(conf, "level: DEBUG\ncount: 0\n")
            wait_for(lambda: s.level == "DEBUG")
            wait_for(lambda: len(s.seen) == 1)
            assert [(c.path, c.old_value, c.new_value) for c in s.seen[0].changes] == [("level", "INFO", "DEBUG")]

    def test_in_place_chunks(self, conf: Path) -> None:
        """An in-place write in several flushed chunks is applied once, complete."""
        with make_settings(conf)() as s:
            with open(conf, "w") as fh:
                fh.write("level: WAR")
                fh.flush()
                fh.write("NING\n")
                fh.flush()
                fh.write("count: 7\n")
            wait_for(lambda: s.count == 7)
            assert s.level == "WARNING"
            assert s.last_error is None
            assert len(s.history) == 2

    def test_debounce_zero(self, conf: Path) -> None:
        """debounce_ms=0 still applies complete writes."""
        with make_settings(conf, ReloadConfig(debounce_ms=0))() as s:
            for i in range(1, 6):
                atomic_write(conf, f"level: INFO\ncount: {i}\n")
                wait_for(lambda i=i: s.count == i)

    def test_kubernetes_atomic_writer(self, tmp_path: Path) -> None:
        """The kubelet's ..data symlink swap is applied although no event names app.yaml."""
        d = tmp_path / "cm"
        kubelet_mount(d, {"app.yaml": "level: INFO\n"})
        with make_settings(d / "app.yaml")() as s:
            kubelet_swap(d, {"app.yaml": "level: ERROR\n"})
            wait_for(lambda: s.level == "ERROR")
            assert s.history[-1].source == "file"

    @pytest.mark.skipif(shutil.which("vim") is None, reason="vim not installed")
    def test_real_vim(self, conf: Path) -> None:
        """A real vim session editing the file is applied."""
        with make_settings(conf)() as s:
            subprocess.run(
                ["vim", "-Es", "-u", "NONE", "-c", "%s/INFO/ERROR/", "-c", "wq", str(conf)],
                check=True, timeout=30, stdin=subprocess.DEVNULL,
            )
            wait_for(lambda: s.level == "ERROR")

    @pytest.mark.skipif(shutil.which("sed") is None, reason="sed not installed")
    def test_real_sed_in_place(self, conf: Path) -> None:
        """sed -i (write a temp file, rename over) is applied."""
        with make_settings(conf)() as s:
            subprocess.run(["sed", "-i", "s/count: 0/count: 3/", str(conf)], check=True, timeout=30)
            wait_for(lambda: s.count == 3)

    def test_cp_over(self, conf: Path, tmp_path: Path) -> None:
        """cp onto the file (truncate + write in place) is applied."""
        src = tmp_path / "new.yaml"
        src.write_text("level: INFO\ncount: 11\n")
        with make_settings(conf)() as s:
            shutil.copyfile(src, conf)
            wait_for(lambda: s.count == 11)

    def test_dotenv_and_secrets_dir(self, tmp_path: Path) -> None:
        """.env edits and secrets_dir files are watched like the YAML file."""
        d = tmp_path / "conf"
        secrets = tmp_path / "secrets"
        d.mkdir()
        secrets.mkdir()
        (d / "app.yaml").write_text("level: INFO\n")
        (d / ".env").write_text("COUNT=1\n")
        (secrets / "token").write_text("s1")

        class Settings(ReloadableSettings):
            model_config = SettingsConfigDict(
                yaml_file=str(d / "app.yaml"), env_file=str(d / ".env"), secrets_dir=str(secrets)
            )
            reload_config = FAST
            level: str = "INFO"
            count: int = 0
            token: SecretStr = SecretStr("")

        with Settings() as s:
            assert (s.count, s.token.get_secret_value()) == (1, "s1")
            atomic_write(d / ".env", "COUNT=2\n")
            wait_for(lambda: s.count == 2)
            atomic_write(secrets / "token", "s2")
            wait_for(lambda: s.token.get_secret_value() == "s2")


class TestNothingHappens:
    """Events that do not change content produce no version and no handler call."""

    def test_touch_chmod_same_bytes(self, conf: Path) -> None:
        """touch, chmod and rewriting the same bytes make no version; a later real change does."""
        with make_settings(conf)() as s:
            os.utime(conf)
            os.chmod(conf, 0o640)
            atomic_write(conf, conf.read_text())
            with open(conf, "w") as fh:
                fh.write("level: INFO\ncount: 0\n")
            sentinel = conf.with_name("other.yaml")
            sentinel.write_text("x: 1\n")  # not tracked: ignored
            atomic_write(conf, "level: INFO\ncount: 1\n")  # the sentinel change
            wait_for(lambda: s.count == 1)
            wait_for(lambda: s.seen != [])  # the handler runs just after the commit
            assert [v.source for v in s.history] == ["initial", "file"]
            assert len(s.seen) == 1

    def test_editor_artefacts_only(self, conf: Path) -> None:
        """Swap files, backups, lock links and IDE temp files next to the config trigger nothing."""
        with make_settings(conf)() as s:
            d = conf.parent
            for name in (".app.yaml.swp", ".app.yaml.swx", "4913", "app.yaml~", "#app.yaml#",
                         "app.yaml___jb_tmp___", "app.yaml___jb_old___", "app.yaml.vsctmp"):
                (d / name).write_text("level: ERROR\n")
                (d / name).unlink()
            os.symlink("user@host.123:456", d / ".#app.yaml")
            os.unlink(d / ".#app.yaml")
            atomic_write(conf, "level: INFO\ncount: 5\n")
            wait_for(lambda: s.count == 5)
            assert len(s.history) == 2 and s.level == "INFO"


class TestBadWrites:
    """Half-written, deleted and invalid files never replace the last good config."""

    def test_delete_then_recreate(self, conf: Path) -> None:
        """A deleted file keeps the last good config and reports it; recreating it applies."""
        with make_settings(conf)() as s:
            atomic_write(conf, "level: DEBUG\ncount: 1\n")
            wait_for(lambda: s.count == 1)
            conf.unlink()
            wait_for(lambda: isinstance(s.last_error, SourceMissingError))
            assert (s.level, s.count) == ("DEBUG", 1)
            conf.write_text("level: ERROR\ncount: 2\n")
            wait_for(lambda: s.count == 2)
            assert s.last_error is None

    def test_empty_file_is_rejected(self, conf: Path) -> None:
        """An emptied file (a truncate that was never followed by a write) keeps the last good config."""
        with make_settings(conf)() as s:
            conf.write_text("")
            wait_for(lambda: s.last_error is not None)
            assert "empty" in str(s.last_error)
            assert (s.level, s.count) == ("INFO", 0)

    def test_directory_replaced(self, conf: Path) -> None:
        """rm -rf dir; mkdir dir; write — the new directory is watched and its file applied."""
        with make_settings(conf)() as s:
            d = conf.parent
            shutil.rmtree(d)
            wait_for(lambda: s.last_error is not None)
            d.mkdir()
            conf.write_text("level: INFO\ncount: 9\n")
            wait_for(lambda: s.count == 9, timeout=15)

    def test_bad_then_good_fifty_times(self, conf: Path) -> None:
        """After every invalid write the next valid one applies (50 rounds, breaker included)."""
        with make_settings(conf)() as s:
            for i in range(1, 51):
                atomic_write(conf, f"level: INFO\ncount: not-a-number-{i}\n")
                wait_for(lambda: s.hot_reload.metrics.rejected >= i)
                atomic_write(conf, f"level: INFO\ncount: {i}\n")
                wait_for(lambda i=i: s.count == i)
            assert s.hot_reload.metrics.breaker_state == "closed"

    def test_rejected_bytes_are_not_revalidated(self, conf: Path) -> None:
        """Events for the same rejected bytes are neither re-validated nor re-logged."""
        with make_settings(conf)() as s:
            atomic_write(conf, "count: [1]\n")
            wait_for(lambda: s.hot_reload.metrics.rejected == 1)
            for _ in range(5):
                os.utime(conf)
                atomic_write(conf, "count: [1]\n")
            atomic_write(conf, "count: 4\n")
            wait_for(lambda: s.count == 4)
            assert s.hot_reload.metrics.rejected == 1

    def test_breaker_opens_and_the_next_good_file_still_applies(self, conf: Path) -> None:
        """After failure_threshold distinct bad files the breaker opens; a good file written meanwhile applies after the cool-down."""
        config = ReloadConfig(debounce_ms=5, failure_threshold=3, breaker_cooldown_s=3.0)
        with make_settings(conf, config)() as s:
            for i in range(3):
                atomic_write(conf, f"count: bad-{i}\n")
                wait_for(lambda i=i: s.hot_reload.metrics.rejected == i + 1)
            assert s.hot_reload.metrics.breaker_state == "open"
            for i in range(5):  # while open: not even parsed
                atomic_write(conf, f"count: worse-{i}\n")
            atomic_write(conf, "count: 12\n")
            wait_for(lambda: s.count == 12)
            assert s.hot_reload.metrics.rejected == 3
            assert s.hot_reload.metrics.breaker_state == "closed"


class TestBursts:
    """Many writes in a row: the final content always wins and versions only move forward."""

    def test_thousand_writes(self, conf: Path) -> None:
        """1,000 atomic writes end with the last one applied, in few versions, numbers increasing."""
        numbers: list[int] = []
        lock = threading.Lock()
        with make_settings(conf)() as s:
            handle = s.watch("count", lambda d: (lock.acquire(), numbers.append(d.version.number), lock.release()))
            for i in range(1, 1001):
                atomic_write(conf, f"level: INFO\ncount: {i}\n")
            wait_for(lambda: s.count == 1000, timeout=20)
            handle.cancel()
            assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers)
            counts = [v.snapshot.count for v in s.history]
            assert counts == sorted(counts)
            assert len(numbers) < 200

    def test_two_files_one_version(self, tmp_path: Path) -> None:
        """Two files changed together arrive as one version with both changes."""
        d = tmp_path / "conf"
        d.mkdir()
        (d / "a.yaml").write_text("level: INFO\n")
        (d / "b.yaml").write_text("count: 0\n")

        class Two(ReloadableSettings):
            model_config = SettingsConfigDict(yaml_file=[str(d / "a.yaml"), str(d / "b.yaml")])
            reload_config = ReloadConfig(debounce_ms=200, max_wait_ms=2000)
            level: str = "INFO"
            count: int = 0

        with Two() as s:
            atomic_write(d / "a.yaml", "level: DEBUG\n")
            atomic_write(d / "b.yaml", "count: 3\n")
            wait_for(lambda: s.count == 3 and s.level == "DEBUG")
            assert len(s.history) == 2
            assert sorted(c.path for c in s.history[-1].changes) == ["count", "level"]

    def test_priority_file_skips_debounce(self, tmp_path: Path) -> None:
        """A file listed in priority applies although the normal debounce window is very long."""
        d = tmp_path / "conf"
        d.mkdir()
        (d / "app.yaml").write_text("level: INFO\ncount: 0\n")
        config = ReloadConfig(debounce_ms=60_000, max_wait_ms=120_000, priority=("app.yaml",))
        with make_settings(d / "app.yaml", config)() as s:
            atomic_write(d / "app.yaml", "level: INFO\ncount: 1\n")
            wait_for(lambda: s.count == 1)


class TestPolling:
    """Mounts without inotify: polling compares ctime and content, not only mtime."""

    def test_poll_interval(self, conf: Path) -> None:
        """poll_interval_ms switches to polling and changes are picked up."""
        with make_settings(conf, ReloadConfig(poll_interval_ms=20, debounce_ms=0))() as s:
            assert s.hot_reload.status.mode == "poll"
            atomic_write(conf, "level: INFO\ncount: 2\n")
            wait_for(lambda: s.count == 2)

    def test_same_size_mtime_restored(self, conf: Path) -> None:
        """A change of the same size with mtime put back is still detected."""
        with make_settings(conf, ReloadConfig(poll_interval_ms=20, debounce_ms=0))() as s:
            st = os.stat(conf)
            with open(conf, "r+") as fh:
                fh.write("level: INFO\ncount: 8\n")
            os.utime(conf, ns=(st.st_atime_ns, st.st_mtime_ns))
            wait_for(lambda: s.count == 8)

    def test_env_var_forces_polling(self, conf: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """LIVESETTINGS_POLL=<ms> makes the default ReloadConfig poll."""
        monkeypatch.setenv("LIVESETTINGS_POLL", "25")
        with make_settings(conf, ReloadConfig(debounce_ms=0))() as s:
            assert s.hot_reload.status.mode == "poll"
            atomic_write(conf, "level: INFO\ncount: 6\n")
            wait_for(lambda: s.count == 6)


class TestLifecycle:
    """Threads and file handles are released; close() is idempotent."""

    def test_close_is_idempotent_and_stops_watching(self, conf: Path) -> None:
        """After close() edits are ignored, reads still work and close() can be called again."""
        s = make_settings(conf)()
        s.close()
        s.close()
        atomic_write(conf, "level: ERROR\ncount: 0\n")
        assert s.level == "INFO"
        assert not s.hot_reload.is_enabled()

    def test_thousand_cycles_no_leaks(self, conf: Path) -> None:
        """1,000 create/close cycles leave the thread count and open file descriptors where they were."""
        cls = make_settings(conf)
        cls().close()
        threads = threading.active_count()
        fds = len(os.listdir("/proc/self/fd"))
        for _ in range(1000):
            cls().close()
        assert threading.active_count() <= threads
        assert len(os.listdir("/proc/self/fd")) <= fds + 2

    def test_disable_enable(self, conf: Path) -> None:
        """hot_reload.disable() stops watching; enable() resumes and picks up the file."""
        with make_settings(conf)() as s:
            s.hot_reload.disable()
            assert not s.hot_reload.is_enabled()
            s.hot_reload.enable()
            atomic_write(conf, "level: INFO\ncount: 13\n")
            wait_for(lambda: s.count == 13)


def test_versions_are_versions(conf: Path) -> None:
    """Versions made by the watcher carry source 'file'."""
    with make_settings(conf)() as s:
        atomic_write(conf, "level: INFO\ncount: 1\n")
        wait_for(lambda: s.count == 1)
        assert isinstance(s.version, Version) and s.version.source == "file"
