"""Tests for the FileReader: OS errors become SourceErrors, and the ownership/permission trust rules.

The unprivileged cases fork a child that drops to ``nobody`` (the suite runs as root, which can
read a mode-000 file): the child builds the settings object, breaks its own file, and reports
back what ``reload()`` raised and what ``last_error`` says, as JSON.
"""

from __future__ import annotations

import encodings.utf_8_sig  # noqa: F401 - the forked child cannot import stdlib modules lazily
import errno
import json
import os
import pwd
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from pydantic_settings import SettingsConfigDict

from conftest import wait_for
import livesettings._manager  # noqa: F401 - imported before the fork, like the codec above
from livesettings import ReloadableSettings, ReloadConfig
from livesettings.exceptions import SourceError, UntrustedSourceError

OFF = ReloadConfig(enabled=False)


def _app(path: Path, config: ReloadConfig = OFF) -> type[ReloadableSettings]:
    class App(ReloadableSettings):
        model_config = SettingsConfigDict(yaml_file=str(path))
        reload_config = config
        level: str = "INFO"

    return App


def _nobody() -> pwd.struct_passwd | None:
    try:
        user = pwd.getpwnam("nobody")
    except KeyError:
        return None
    return user if os.geteuid() == 0 else None


def _scenario(work: Path, what: str) -> dict[str, Any]:
    """Run in the unprivileged child: load, break the file (or its directory), reload, report."""
    cfg = work / "config" / "app.yaml"
    cfg.parent.mkdir(mode=0o755)
    cfg.write_text("level: INFO\n")
    seen: list[str] = []
    with _app(cfg)() as s:
        s.hot_reload.on_error(lambda e: seen.append(type(e).__name__))
        cfg.write_text("level: DEBUG\n")
        os.chmod(cfg if what == "file" else cfg.parent, 0)
        try:
            s.reload()
            raised = None
        except SourceError as exc:
            raised = [type(exc).__name__, str(exc), exc.source]
        except OSError as exc:
            raised = ["raw " + type(exc).__name__, str(exc), None]
        last = s.last_error
        return {"raised": raised, "last_error": None if last is None else str(last),
                "callbacks": seen, "level": s.level, "uid": os.getuid()}


def _run_as_nobody(what: str) -> dict[str, Any]:
    """Fork; the child drops to ``nobody`` and runs ``_scenario`` (the interpreter may sit where
    ``nobody`` cannot exec it, so a fresh process is not an option); its result comes back as JSON."""
    user = _nobody()
    if user is None:
        pytest.skip("needs root (to drop to the unprivileged user 'nobody')")
    work = Path(tempfile.mkdtemp(prefix="livesettings-nobody-"))  # under /tmp: reachable by nobody
    os.chown(work, user.pw_uid, user.pw_gid)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        code = 1
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(user.pw_gid)
            os.setuid(user.pw_uid)
            payload = json.dumps(_scenario(work, what))
            code = 0
        except BaseException as exc:  # noqa: BLE001 - reported to the parent
            payload = json.dumps({"child_error": repr(exc)})
        with os.fdopen(write_end, "w") as out:
            out.write(payload)
        os._exit(code)
    os.close(write_end)
    try:
        with os.fdopen(read_end) as inp:
            text = inp.read()
        _, status = os.waitpid(pid, 0)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result: dict[str, Any] = json.loads(text)
    assert os.waitstatus_to_exitcode(status) == 0, result
    assert result["uid"] == user.pw_uid
    return result


class TestOSErrors:
    """Every OSError while reading a source is a SourceError naming the file; last_error is set."""

    def test_unreadable_file_as_unprivileged_user(self) -> None:
        """A mode-000 file read by an unprivileged user is a SourceError, recorded and reported."""
        result = _run_as_nobody("file")
        kind, message, source = result["raised"]
        assert kind == "SourceError" and source.endswith("app.yaml")
        assert "permission denied" in message.lower()
        assert result["last_error"] == message
        assert result["callbacks"] == ["SourceError"] and result["level"] == "INFO"

    def test_unsearchable_directory_as_unprivileged_user(self) -> None:
        """A config directory the process may no longer enter is a SourceError too."""
        result = _run_as_nobody("dir")
        kind, message, source = result["raised"]
        assert kind == "SourceError" and source.endswith("app.yaml")
        assert "permission denied" in message.lower() and result["last_error"] == message

    def test_symlink_loop_on_reload(self, tmp_path: Path) -> None:
        """A config path turned into a symlink loop is a SourceError on reload(), and last_error says so."""
        cfg = tmp_path / "app.yaml"
        cfg.write_text("level: INFO\n")
        errors: list[BaseException] = []
        with _app(cfg)() as s:
            s.hot_reload.on_error(errors.append)
            # Build the loop aside and rename it over the file: no moment where app.yaml is missing
            # (a reload in that gap would report "not found" rather than the loop).
            os.symlink(tmp_path / "loop", tmp_path / "new")
            os.symlink(cfg, tmp_path / "loop")
            os.replace(tmp_path / "new", cfg)
            with pytest.raises(SourceError) as info:
                s.reload()
            assert s.last_error is info.value and errors == [info.value]
            assert info.value.source == str(cfg) and "symbolic links" in str(info.value)
            assert s.level == "INFO"

    def test_symlink_loop_at_start(self, tmp_path: Path) -> None:
        """At start-up a symlink loop is a SourceError, not a raw OSError."""
        cfg = tmp_path / "app.yaml"
        os.symlink(tmp_path / "loop", cfg)
        os.symlink(cfg, tmp_path / "loop")
        with pytest.raises(SourceError, match="app.yaml"):
            _app(cfg)()

    def test_watcher_sees_the_error(self, tmp_path: Path) -> None:
        """From the watcher, an OS error sets last_error and runs error callbacks (not only a log line)."""
        cfg = tmp_path / "app.yaml"
        cfg.write_text("level: INFO\n")
        errors: list[BaseException] = []
        with _app(cfg, ReloadConfig(debounce_ms=10))() as s:
            s.hot_reload.on_error(errors.append)
            # Build the loop aside and rename it over the file: no moment where app.yaml is missing
            # (a reload in that gap would report "not found" rather than the loop).
            os.symlink(tmp_path / "loop", tmp_path / "new")
            os.symlink(cfg, tmp_path / "loop")
            os.replace(tmp_path / "new", cfg)
            # last_error is set before the callbacks run: wait for both, not one then assume the other
            wait_for(lambda: s.last_error is not None and errors)
            assert isinstance(s.last_error, SourceError) and isinstance(errors[0], SourceError)
            assert os.strerror(errno.ELOOP) in str(s.last_error)


class TestOwnershipAndModes:
    """Who could have written a file decides whether it is trusted (see docs/security.md)."""

    def _chown_other(self, path: Path) -> None:
        user = _nobody()
        if user is None:
            pytest.skip("needs root to give a file to another user")
        os.chown(path, user.pw_uid, user.pw_gid)

    def test_group_writable_file_of_another_user_refused(self, tmp_path: Path) -> None:
        """A group-writable file owned by neither this user nor root is refused."""
        cfg = tmp_path / "app.yaml"
        cfg.write_text("level: INFO\n")
        self._chown_other(cfg)
        os.chmod(cfg, 0o664)
        with pytest.raises(UntrustedSourceError, match="group-writable"):
            _app(cfg)()

    def test_group_writable_own_file_accepted(self, tmp_path: Path) -> None:
        """A group-writable file owned by this user (umask 002) is accepted."""
        cfg = tmp_path / "app.yaml"
        cfg.write_text("level: DEBUG\n")
        os.chmod(cfg, 0o664)
        with _app(cfg)() as s:
            assert s.level == "DEBUG"

    def test_another_users_read_only_file_accepted(self, tmp_path: Path) -> None:
        """A file owned by another user but writable only by them (a deploy user's 0644) is accepted."""
        cfg = tmp_path / "app.yaml"
        cfg.write_text("level: DEBUG\n")
        self._chown_other(cfg)
        os.chmod(cfg, 0o644)
        with _app(cfg)() as s:
            assert s.level == "DEBUG"

    def test_world_writable_directory_refused(self, tmp_path: Path) -> None:
        """A file in a world-writable directory without the sticky bit is refused (anyone may replace it)."""
        d = tmp_path / "conf"
        d.mkdir()
        cfg = d / "app.yaml"
        cfg.write_text("level: INFO\n")
        os.chmod(d, 0o777)
        with pytest.raises(UntrustedSourceError, match="world-writable directory"):
            _app(cfg)()

    def test_world_writable_ancestor_refused(self, tmp_path: Path) -> None:
        """A world-writable directory higher up is refused too (the directory below can be renamed away)."""
        top = tmp_path / "top"
        (top / "conf").mkdir(parents=True)
        cfg = top / "conf" / "app.yaml"
        cfg.write_text("level: INFO\n")
        os.chmod(top, 0o777)
        with pytest.raises(UntrustedSourceError, match=str(top)):
            _app(cfg)()

    def test_sticky_directory_needs_own_file(self, tmp_path: Path) -> None:
        """In a sticky world-writable directory (/tmp-like) a file another user created is refused, ours is fine."""
        d = tmp_path / "shared"
        d.mkdir()
        os.chmod(d, 0o1777)
        cfg = d / "app.yaml"
        cfg.write_text("level: DEBUG\n")
        with _app(cfg)() as s:
            assert s.level == "DEBUG"
        self._chown_other(cfg)
        with pytest.raises(UntrustedSourceError, match="sticky"):
            _app(cfg)()

    def test_symlinked_file_checks_the_link_directory(self, tmp_path: Path) -> None:
        """The directory holding a symlink is checked as well as the target's (the link can be swapped)."""
        real = tmp_path / "real"
        real.mkdir()
        (real / "app.yaml").write_text("level: INFO\n")
        links = tmp_path / "links"
        links.mkdir()
        os.symlink(real / "app.yaml", links / "app.yaml")
        os.chmod(links, 0o777)
        with pytest.raises(UntrustedSourceError, match="world-writable directory"):
            _app(links / "app.yaml", ReloadConfig(enabled=False, allowed_roots=(tmp_path,)))()

    def test_refused_on_reload_keeps_serving(self, tmp_path: Path) -> None:
        """A directory made world-writable after start-up rejects the next reload; the old config serves."""
        d = tmp_path / "conf"
        d.mkdir()
        cfg = d / "app.yaml"
        cfg.write_text("level: INFO\n")
        with _app(cfg)() as s:
            cfg.write_text("level: DEBUG\n")
            os.chmod(d, 0o777)
            with pytest.raises(UntrustedSourceError):
                s.reload()
            assert s.level == "INFO" and isinstance(s.last_error, UntrustedSourceError)
            os.chmod(d, 0o755)
            s.reload()
            assert s.level == "DEBUG"

