"""Tests for the one masking rule (``_redact``) and for every path a value can leave the process by.

Each output path gets a planted secret string and must not show it: reprs of the settings object,
its snapshot and its sections, ``Change``/``Diff``/``Version`` reprs, the audit log lines,
``ReloadError`` messages and details, ``ValidationResult`` and the restart warning.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import pytest
from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from livesettings import Change, ChangeType, Diff, Frozen, ReloadableSettings, ReloadConfig, ReloadError, Restart
from livesettings._redact import is_secret, safe_repr, secret_path

OFF = ReloadConfig(enabled=False)


class TestSecretPath:
    """A dotted path is secret when any of its segments looks like a credential name."""

    @pytest.mark.parametrize(
        "path",
        ["password", "database.password", "tokens.github", "passwords.db", "api_tokens.0",
         "auth.provider", "credentials.aws.key_id", "db.api-key", "PRIVATE_KEY"],
    )
    def test_credential_segment_anywhere(self, path: str) -> None:
        """A credential-like segment, first, middle or last, makes the path secret."""
        assert secret_path(path)

    @pytest.mark.parametrize("path", ["", "database.host", "logging.level", "author", "oauthor.name", "servers.0.port"])
    def test_ordinary_paths(self, path: str) -> None:
        """Paths without a credential-like segment are not secret (``author`` is not ``auth``)."""
        assert not secret_path(path)

    def test_values_under_secret_path(self) -> None:
        """Strings and numbers under a secret path are secret; None and booleans are shown."""
        assert is_secret("x", "tokens.github")
        assert is_secret(1234, "passwords.db")
        assert is_secret(b"x", "api_tokens.0")
        assert not is_secret(None, "tokens.github")
        assert not is_secret(True, "auth.enabled")
        assert not is_secret("x", "database.host")

    def test_secret_types_anywhere(self) -> None:
        """A SecretStr is secret at any path, or at none."""
        assert is_secret(SecretStr("x"))
        assert is_secret(SecretStr("x"), "database.host")


class TestSafeRepr:
    """``safe_repr`` masks secrets at any depth, by type, by path and in URLs."""

    def test_mapping_under_credential_name(self) -> None:
        """Values in a mapping under a credential-named key are masked, keys stay readable."""
        text = safe_repr({"github": "PLANT-gh", "gitlab": "PLANT-gl"}, "tokens")
        assert "PLANT" not in text and "'github': <secret fp=" in text

    def test_nested_mapping_and_list(self) -> None:
        """A credential name high up masks everything below it, lists included."""
        text = safe_repr({"tokens": {"ci": ["PLANT-a", {"x": "PLANT-b"}]}, "host": "db"})
        assert "PLANT" not in text and "'host': 'db'" in text

    def test_url_password(self) -> None:
        """The password of a URL at an ordinary path is masked; user and host stay."""
        text = safe_repr("postgres://app:PLANT-pw@db:5432/x", "database.url")
        assert "PLANT" not in text and "postgres://app:<secret fp=" in text and "@db:5432" in text

    def test_secret_flag(self) -> None:
        """``secret=True`` masks every leaf (a section known to sit under a credential name)."""
        assert "PLANT" not in safe_repr({"user": "PLANT-u", "n": 3}, secret=True)


# --------------------------------------------------------------------------- the settings


class Creds(BaseModel):
    user: str = ""
    region: str = "eu"


class Db(BaseModel):
    host: str = "db"
    password: str = ""
    url: str = ""


def _config(tag: str) -> str:
    return (
        f"api_token: PLANT-{tag}-api\n"
        f"tokens: {{github: PLANT-{tag}-gh}}\n"
        f"api_tokens: [PLANT-{tag}-list0]\n"
        f"passwords: {{db: PLANT-{tag}-pwdb}}\n"
        f"db: {{password: PLANT-{tag}-dbpw, url: 'postgres://u:PLANT-{tag}-url@h/x'}}\n"
        f"auth: {{user: PLANT-{tag}-authuser}}\n"
        f"level: {tag}\n"
    )


def _app(path: Path) -> type[ReloadableSettings]:
    class App(ReloadableSettings):
        model_config = SettingsConfigDict(yaml_file=str(path))
        reload_config = OFF
        api_token: str
        tokens: dict[str, str]
        api_tokens: list[Annotated[str, Field(max_length=40)]]
        passwords: dict[str, str]
        db: Db
        auth: Creds
        level: str

    return App


def _assert_clean(text: str) -> None:
    assert "PLANT-" not in text, text


class TestReprs:
    """Every repr of the settings, of its snapshot and of its sections masks secrets."""

    def test_settings_snapshot_and_sections(self, tmp_path: Path) -> None:
        """repr/str of the settings object, snapshot() and each section show no planted secret."""
        cfg = tmp_path / "c.yaml"
        cfg.write_text(_config("a"))
        with _app(cfg)() as s:
            snap = s.snapshot()
            for text in (repr(s), repr(snap), str(snap), repr(s.db), str(s.db), repr(s.auth), repr(s.version)):
                _assert_clean(text)
            assert "level='a'" in repr(snap) and "host='db'" in repr(s.db)
            assert "region=<secret fp=" in repr(s.auth)  # the whole section sits under ``auth``
            assert snap.tokens == {"github": "PLANT-a-gh"}  # masking is for output only

    def test_rich_repr_args(self, tmp_path: Path) -> None:
        """``__repr_args__`` (used by rich, devtools and pydantic's str) is masked too."""
        cfg = tmp_path / "c.yaml"
        cfg.write_text(_config("a"))
        with _app(cfg)() as s:
            _assert_clean(repr(list(s.snapshot().__repr_args__())))
            _assert_clean(repr(list(s.db.__repr_args__())))


class TestChanges:
    """Change and Diff reprs, descriptions and the audit lines mask secrets."""

    def test_change_describe_and_repr(self) -> None:
        """A change under a credential-named mapping is masked in describe(), repr() and str()."""
        for change in (
            Change("tokens.github", ChangeType.MODIFY, "PLANT-old", "PLANT-new"),
            Change("passwords.db", ChangeType.ADD, None, "PLANT-new"),
            Change("api_tokens.0", ChangeType.DELETE, "PLANT-old", None),
        ):
            _assert_clean(change.describe() + repr(change) + str(change))

    def test_diff_repr(self) -> None:
        """A Diff on a credential-named section masks its old and new values and its changes."""
        change = Change("tokens.github", ChangeType.MODIFY, "PLANT-old", "PLANT-new")
        diff = Diff("tokens", {"github": "PLANT-old"}, {"github": "PLANT-new"}, (change,))
        _assert_clean(repr(diff))

    def test_reload_audit_history_and_handlers(self, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
        """An applied reload's audit INFO line, the version, its history and a handler's Diff are masked."""
        cfg = tmp_path / "c.yaml"
        cfg.write_text(_config("a"))
        caplog.set_level(logging.DEBUG, logger="livesettings")
        seen: list[str] = []
        with _app(cfg)() as s:
            s.watch("", lambda diff: seen.append(repr(diff)))
            cfg.write_text(_config("b"))
            version = s.reload()
            assert version is not None and len(version.changes) == 8
            _assert_clean(repr(version) + repr(s.history) + repr(s.diff(s.history[0].id, version.id)))
        assert seen
        _assert_clean("".join(seen))
        _assert_clean(caplog.text)
        assert "tokens.github: <secret fp=" in caplog.text and "level: 'a' -> 'b'" in caplog.text


class TestErrors:
    """Validation errors on secret paths never print the input, in the error or in the audit log."""

    def test_list_item_and_mapping_value(self, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
        """Errors on ``api_tokens.0`` and ``passwords.db`` omit ``(got ...)`` everywhere."""
        cfg = tmp_path / "c.yaml"
        cfg.write_text(_config("a"))
        caplog.set_level(logging.DEBUG, logger="livesettings")
        errors: list[BaseException] = []
        with _app(cfg)() as s:
            s.hot_reload.on_error(errors.append)
            cfg.write_text(
                _config("b").replace("[PLANT-b-list0]", "[PLANT-b-list0-much-too-long-for-the-limit-xxxxxxxxx]")
                .replace("{db: PLANT-b-pwdb}", "{db: [PLANT-b-pwdb]}")
                .replace("level: b", "level: [not-a-string]")
            )
            with pytest.raises(ReloadError) as info:
                s.reload()
            result = s.check()
            assert s.last_error is not None
            texts = [str(info.value), repr(info.value), repr(result), str(s.last_error)]
            texts += [repr(d) for d in info.value.details] + [str(e) for e in errors]
        assert errors and errors[0] is info.value
        fields = {d.field for d in info.value.details}
        assert {"api_tokens.0", "passwords.db", "level"} <= fields
        for text in texts:
            _assert_clean(text)
        assert "(got ['not-a-string'])" not in texts[0]  # lists are never echoed; scalars only
        _assert_clean(caplog.text)

    def test_scalar_input_on_ordinary_path_is_shown(self, tmp_path: Path) -> None:
        """A bad value on an ordinary path is still echoed (masking is not blanket)."""
        cfg = tmp_path / "c.yaml"
        cfg.write_text("port: not-a-port\n")

        class App(ReloadableSettings):
            model_config = SettingsConfigDict(yaml_file=str(cfg))
            reload_config = OFF
            port: int = 1

        with pytest.raises(ReloadError, match=r"\(got 'not-a-port'\)"):
            App()

    def test_validator_message_quoting_the_secret(self, tmp_path: Path) -> None:
        """A user validator that puts the secret in its message has it masked in the error."""
        cfg = tmp_path / "c.yaml"
        cfg.write_text("password: PLANT-validator\nurl: 'redis://:PLANT-url@h:1'\n")

        class App(ReloadableSettings):
            model_config = SettingsConfigDict(yaml_file=str(cfg))
            reload_config = OFF
            password: SecretStr
            url: str

            @field_validator("password")
            @classmethod
            def _check(cls, v: SecretStr) -> SecretStr:
                raise ValueError(f"weak password {v.get_secret_value()}")

            @field_validator("url")
            @classmethod
            def _check_url(cls, v: str) -> str:
                raise ValueError(f"unreachable {v}")

        with pytest.raises(ReloadError) as info:
            App()
        _assert_clean(str(info.value))
        assert "weak password <secret fp=" in str(info.value)
        assert "redis://:<secret fp=" in str(info.value)

    def test_frozen_and_restart_under_credential_name(
        self, tmp_path: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        """The FrozenFieldError message and the restart warning mask values under credential names."""
        cfg = tmp_path / "c.yaml"
        cfg.write_text("tokens: {a: PLANT-1}\npasswords: {b: PLANT-2}\n")
        caplog.set_level(logging.DEBUG, logger="livesettings")

        class App(ReloadableSettings):
            model_config = SettingsConfigDict(yaml_file=str(cfg))
            reload_config = OFF
            tokens: Annotated[dict[str, str], Frozen]
            passwords: Annotated[dict[str, str], Restart]

        with App() as s:
            cfg.write_text("tokens: {a: PLANT-1}\npasswords: {b: PLANT-3}\n")
            s.reload()
            _assert_clean(repr(s.pending_restart))
            cfg.write_text("tokens: {a: PLANT-4}\npasswords: {b: PLANT-3}\n")
            with pytest.raises(ReloadError) as info:
                s.reload()
        _assert_clean(str(info.value))
        assert "needs a restart" in caplog.text
        _assert_clean(caplog.text)


class TestCrossFieldErrors:
    """A model validator's message that quotes a secret leaf of the whole input is masked."""

    def test_model_validator_quoting_a_declared_secret(self, tmp_path: Path) -> None:
        """A SecretStr field with an ordinary name, quoted by a cross-field check, is masked."""
        cfg = tmp_path / "c.yaml"
        cfg.write_text("user: PLANT-user-value\nkey: PLANT-user-value\n")

        class App(ReloadableSettings):
            model_config = SettingsConfigDict(yaml_file=str(cfg))
            reload_config = OFF
            user: str
            key: SecretStr

            @model_validator(mode="before")
            @classmethod
            def _differ(cls, data: dict[str, str]) -> dict[str, str]:
                if data.get("user") == data.get("key"):
                    raise ValueError(f"key must differ from user {data['key']}")
                return data

        with pytest.raises(ReloadError) as info:
            App()
        _assert_clean(str(info.value))
