"""Tests for rejected configs: what reload() raises, what it keeps, and how errors read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from livesettings import ReloadableSettings, ReloadConfig, ReloadError, ValidationResult
from livesettings.exceptions import ErrorDetail, FrozenFieldError, SourceError, SourceMissingError

OFF = ReloadConfig(enabled=False)
SECRET = "s3cr3t-raw-input-value"


class Database(BaseModel):
    host: str = "localhost"
    pool_size: int = Field(5, ge=1, le=100)
    password: SecretStr = SecretStr("")


GOOD = "low: 1\nhigh: 5\ndatabase:\n  host: db\n  pool_size: 5\n"


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(GOOD)
    return path


def make_app(cfg: Path, **config: Any) -> type[ReloadableSettings]:
    class App(ReloadableSettings):
        model_config = SettingsConfigDict(
            yaml_file=str(cfg),
            env_prefix="APP_",
            env_nested_delimiter="__",
            **config,  # type: ignore[typeddict-item]
        )
        reload_config = OFF
        low: int
        high: int = 10
        database: Database = Database()

        @field_validator("high")
        @classmethod
        def _not_13(cls, v: int) -> int:
            if v == 13:
                raise ValueError("13 is unlucky")
            return v

        @model_validator(mode="after")
        def _ordered(self) -> Any:
            if self.low > self.high:
                raise ValueError("low must not exceed high")
            return self

    return App


def assert_rejected(
    s: ReloadableSettings, errors: list[BaseException], expected: type[ReloadError] = ReloadError
) -> ReloadError:
    """reload() raises, the snapshot object is kept, last_error and the error callback see the error."""
    before_snapshot, before_version = s.snapshot(), s.version
    with pytest.raises(expected) as info:
        s.reload()
    assert s.snapshot() is before_snapshot and s.version is before_version
    assert s.last_error is info.value
    assert errors and errors[-1] is info.value
    return info.value


@pytest.fixture
def app(cfg: Path) -> Any:
    with make_app(cfg)() as s:
        errors: list[BaseException] = []
        s.hot_reload.on_error(errors.append)
        yield s, errors


class TestRejectedReloads:
    """Each validation stage rejects the candidate and keeps the current snapshot."""

    def test_yaml_syntax_error(self, app: Any, cfg: Path) -> None:
        """A YAML syntax error names the file and line and is a SourceError."""
        s, errors = app
        cfg.write_text("low: 1\nhigh: [5\n")
        err = assert_rejected(s, errors, SourceError)
        assert err.source == str(cfg) and err.line is not None and err.line >= 2
        assert str(cfg) in str(err) and f"line {err.line}" in str(err)

    def test_type_error_names_file_line_column_and_field(self, app: Any, cfg: Path) -> None:
        """A wrong type names the dotted field, the file, and the value's exact line and column."""
        s, errors = app
        cfg.write_text("low: 1\nhigh: 5\ndatabase:\n  host: db\n  pool_size: many\n")
        err = assert_rejected(s, errors)
        assert (err.field, err.source, err.line, err.column) == ("database.pool_size", str(cfg), 5, 14)
        assert err.stage == "types"
        text = str(err)
        assert "database.pool_size" in text and str(cfg) in text and "line 5, column 14" in text
        assert "'many'" in text  # non-secret input is shown

    def test_range_error(self, app: Any, cfg: Path) -> None:
        """A value outside a Field(ge=..., le=...) range is rejected at the ranges stage."""
        s, errors = app
        cfg.write_text("low: 1\nhigh: 5\ndatabase:\n  pool_size: 0\n")
        err = assert_rejected(s, errors)
        assert (err.field, err.line, err.column, err.stage) == ("database.pool_size", 4, 14, "ranges")

    def test_field_validator_error(self, app: Any, cfg: Path) -> None:
        """A @field_validator failure is rejected and names the field."""
        s, errors = app
        cfg.write_text("low: 1\nhigh: 13\n")
        err = assert_rejected(s, errors)
        assert err.field == "high" and "13 is unlucky" in str(err) and err.line == 2

    def test_cross_field_error(self, app: Any, cfg: Path) -> None:
        """A @model_validator failure is rejected at the cross-field stage."""
        s, errors = app
        cfg.write_text("low: 9\nhigh: 5\n")
        err = assert_rejected(s, errors)
        assert err.stage == "cross-field" and "low must not exceed high" in str(err)

    def test_missing_required_field(self, app: Any, cfg: Path) -> None:
        """A required field that no source sets is named in the error."""
        s, errors = app
        cfg.write_text("high: 5\n")
        err = assert_rejected(s, errors)
        assert err.field == "low" and "required" in str(err)

    def test_all_problems_are_listed(self, app: Any, cfg: Path) -> None:
        """Every problem of one candidate is a separate detail with its own location."""
        s, errors = app
        cfg.write_text("low: x\nhigh: 5\ndatabase:\n  pool_size: 0\n")
        err = assert_rejected(s, errors)
        assert [(d.field, d.line) for d in err.details] == [("low", 1), ("database.pool_size", 4)]
        assert all(isinstance(d, ErrorDetail) for d in err.details)

    def test_reload_error_is_a_value_error(self, app: Any, cfg: Path) -> None:
        """ReloadError can be caught as ValueError."""
        s, _ = app
        cfg.write_text("low: x\n")
        with pytest.raises(ValueError):
            s.reload()

    def test_metrics_count_rejections(self, app: Any, cfg: Path) -> None:
        """Rejected reloads are counted."""
        s, _ = app
        cfg.write_text("low: x\n")
        with pytest.raises(ReloadError):
            s.reload()
        assert s.hot_reload.metrics.rejected == 1
        assert s.hot_reload.metrics.consecutive_failures == 1

    def test_syntax_error_stage(self, app: Any, cfg: Path) -> None:
        """A parse error reports the "syntax" stage on the error itself, not only via check()."""
        s, errors = app
        cfg.write_text("low: [1\n")
        err = assert_rejected(s, errors, SourceError)
        assert err.stage == "syntax"


class TestLocations:
    """Errors point at the exact place a bad value came from, in every source format."""

    def test_toml(self, tmp_path: Path) -> None:
        """A TOML value's line and column are reported."""
        toml = tmp_path / "config.toml"
        toml.write_text('low = 1\n\n[database]\npool_size = "lots"\n')

        class App(ReloadableSettings):
            model_config = SettingsConfigDict(toml_file=str(toml), env_prefix="APP_")
            reload_config = OFF
            low: int
            database: Database = Database()

        with pytest.raises(ReloadError) as info:
            App()
        assert (info.value.field, info.value.source, info.value.line) == ("database.pool_size", str(toml), 4)
        assert info.value.column in (1, 13)  # the TOML locator points at the key; YAML/JSON at the value

    def test_json(self, tmp_path: Path) -> None:
        """A JSON value's line and column are reported."""
        path = tmp_path / "config.json"
        text = '{\n  "low": 1,\n  "database": {"pool_size": "lots"}\n}\n'
        path.write_text(text)

        class App(ReloadableSettings):
            model_config = SettingsConfigDict(json_file=str(path), env_prefix="APP_")
            reload_config = OFF
            low: int
            database: Database = Database()

        with pytest.raises(ReloadError) as info:
            App()
        line3 = text.splitlines()[2]
        assert (info.value.field, info.value.line, info.value.column) == (
            "database.pool_size",
            3,
            line3.index('"lots"') + 1,
        )

    def test_list_items(self, tmp_path: Path) -> None:
        """A bad list item is located by index, in a list of scalars and in a list of models."""
        path = tmp_path / "c.yaml"
        path.write_text("ports:\n  - 1\n  - x\nitems:\n  - {value: 1}\n  - {value: y}\n")

        class Item(BaseModel):
            value: int

        class App(ReloadableSettings):
            model_config = SettingsConfigDict(yaml_file=str(path), env_prefix="APP_")
            reload_config = OFF
            ports: list[int] = []
            items: list[Item] = []

        with pytest.raises(ReloadError) as info:
            App()
        assert [(d.field, d.line, d.column) for d in info.value.details] == [
            ("ports.1", 3, 5),
            ("items.1.value", 6, 13),
        ]

    def test_env_var_is_named(self, cfg: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """A bad environment variable is named, with its prefix and nested delimiter."""
        with make_app(cfg)() as s:
            monkeypatch.setenv("APP_DATABASE__POOL_SIZE", "huge")
            with pytest.raises(ReloadError) as info:
                s.reload()
            assert info.value.field == "database.pool_size"
            assert info.value.source == "environment variable APP_DATABASE__POOL_SIZE"
            assert "APP_DATABASE__POOL_SIZE" in str(info.value)

    def test_dotenv_line(self, cfg: Path, tmp_path: Path) -> None:
        """A bad value from a .env file names the file and line."""
        env = tmp_path / ".env"
        env.write_text("# settings\nAPP_HIGH=7\nAPP_LOW=notint\n")
        with pytest.raises(ReloadError) as info:
            make_app(cfg, env_file=str(env))()
        assert (info.value.field, info.value.source, info.value.line) == ("low", str(env), 3)

    def test_startup_error_has_the_same_quality(self, cfg: Path) -> None:
        """Invalid config at construction raises a ReloadError naming file, line, column and field."""
        cfg.write_text("low: 1\nhigh: 5\ndatabase:\n  pool_size: -3\n")
        with pytest.raises(ReloadError) as info:
            make_app(cfg)()
        assert (info.value.field, info.value.source, info.value.line, info.value.column) == (
            "database.pool_size",
            str(cfg),
            4,
            14,
        )

    def test_startup_syntax_error(self, cfg: Path) -> None:
        """A YAML syntax error at start-up is a SourceError naming the file."""
        cfg.write_text("low: 1\n  high: 2\n")
        with pytest.raises(SourceError) as info:
            make_app(cfg)()
        assert info.value.source == str(cfg) and info.value.line is not None


class TestSecretsInErrors:
    """The raw input of a secret never appears in an error."""

    @pytest.mark.parametrize(
        "yaml_value",
        [f"{SECRET}", "12345678987654321", f"[{SECRET}]", f"{{k: {SECRET}}}"],
        ids=["too-short", "wrong-type", "list", "mapping"],
    )
    def test_secret_field_inputs(self, tmp_path: Path, yaml_value: str) -> None:
        """A rejected SecretStr input is not shown in the error, last_error or ValidationResult."""
        cfg = tmp_path / "config.yaml"
        cfg.write_text("token: long-enough-initial-secret-value\n")

        class App(ReloadableSettings):
            model_config = SettingsConfigDict(yaml_file=str(cfg), env_prefix="APP_")
            reload_config = OFF
            token: SecretStr = Field(min_length=30)

        with App() as s:
            cfg.write_text(f"token: {yaml_value}\n")
            with pytest.raises(ReloadError) as info:
                s.reload()
            result = s.check()
            for text in (str(info.value), repr(info.value), str(s.last_error), repr(result)):
                assert SECRET not in text and "12345678987654321" not in text
            assert info.value.field == "token" and info.value.line == 1

    def test_credential_named_string_fields(self, tmp_path: Path) -> None:
        """A plain str field with a credential-like name does not echo its input."""
        cfg = tmp_path / "config.yaml"
        cfg.write_text("api_key: aaaaaaaaaaaaaaaaaaaa\n")

        class App(ReloadableSettings):
            model_config = SettingsConfigDict(yaml_file=str(cfg), env_prefix="APP_")
            reload_config = OFF
            api_key: str = Field(min_length=20)

        with App() as s:
            cfg.write_text(f"api_key: {SECRET[:10]}\n")
            with pytest.raises(ReloadError) as info:
                s.reload()
            assert SECRET[:10] not in str(info.value)

    def test_secret_from_env_var(self, cfg: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """A secret set through an environment variable is not echoed when rejected."""

        class App(ReloadableSettings):
            model_config = SettingsConfigDict(
                yaml_file=str(cfg), env_prefix="APP_", env_nested_delimiter="__"
            )
            reload_config = OFF
            database: Database = Database()
            low: int = 0
            high: int = 0
            token: SecretStr = Field(SecretStr("x" * 40), min_length=40)

        with App() as s:
            monkeypatch.setenv("APP_TOKEN", SECRET)
            with pytest.raises(ReloadError) as info:
                s.reload()
            assert SECRET not in str(info.value)
            assert info.value.source == "environment variable APP_TOKEN"


class TestEmptyAndMissing:
    """Empty, comment-only and deleted files during a reload."""

    @pytest.mark.parametrize("content", ["", "   \n", "# nothing but a comment\n# and another\n"])
    def test_empty_file_is_rejected(self, app: Any, cfg: Path, content: str) -> None:
        """An empty or comment-only file looks half-written: rejected, last good kept."""
        s, errors = app
        cfg.write_text(content)
        err = assert_rejected(s, errors, SourceMissingError)
        assert err.source == str(cfg)
        assert s.low == 1

    def test_deleted_file_is_rejected(self, app: Any, cfg: Path) -> None:
        """A file that was loaded and then deleted rejects the reload; it applies again when back."""
        s, errors = app
        cfg.unlink()
        assert_rejected(s, errors, SourceMissingError)
        assert s.database.host == "db"
        cfg.write_text(GOOD.replace("host: db", "host: back"))
        assert s.reload() is not None and s.database.host == "back"

    def test_allow_empty(self, cfg: Path) -> None:
        """With allow_empty=True an emptied file is accepted and defaults apply."""
        cfg.write_text("low: 1\nhigh: 2\n")

        class App(ReloadableSettings):
            model_config = SettingsConfigDict(yaml_file=str(cfg), env_prefix="APP_")
            reload_config = ReloadConfig(enabled=False, allow_empty=True)
            low: int = 0
            high: int = 0

        with App() as s:
            cfg.write_text("")
            v = s.reload()
            assert v is not None and (s.low, s.high) == (0, 0)

    def test_missing_optional_file_at_startup(self, tmp_path: Path) -> None:
        """A configured file that does not exist at start-up is fine (as in pydantic-settings)."""
        path = tmp_path / "absent.yaml"

        class App(ReloadableSettings):
            model_config = SettingsConfigDict(yaml_file=str(path), env_prefix="APP_")
            reload_config = OFF
            port: int = 8000

        with App() as s:
            assert s.port == 8000
            assert s.reload() is None
            path.write_text("port: 9000\n")
            assert s.reload() is not None and s.port == 9000

    def test_empty_file_at_startup(self, tmp_path: Path) -> None:
        """An empty file at start-up gives the defaults."""
        path = tmp_path / "empty.yaml"
        path.write_text("")

        class App(ReloadableSettings):
            model_config = SettingsConfigDict(yaml_file=str(path), env_prefix="APP_")
            reload_config = OFF
            port: int = 8000

        with App() as s:
            assert s.port == 8000


class TestRecovery:
    """After a rejected candidate, the next good one applies."""

    def test_bad_then_good_fifty_times(self, app: Any, cfg: Path) -> None:
        """Alternating bad and good files: every good one applies and clears last_error."""
        s, errors = app
        bad_contents = ["low: [\n", "low: x\n", "low: 9\nhigh: 5\n", "high: 5\n", "", "low: 1\nhigh: 13\n"]
        for i in range(50):
            cfg.write_text(bad_contents[i % len(bad_contents)])
            before = s.snapshot()
            with pytest.raises(ReloadError):
                s.reload()
            assert s.snapshot() is before and s.last_error is not None
            cfg.write_text(f"low: 1\nhigh: {20 + i}\n")
            v = s.reload()
            assert v is not None and s.high == 20 + i
            assert s.last_error is None
        assert len(errors) == 50
        assert s.hot_reload.metrics.consecutive_failures == 0

    def test_same_bad_content_again_is_still_reported(self, app: Any, cfg: Path) -> None:
        """Bad bytes seen before are rejected again (and recorded) after a good version in between."""
        s, errors = app
        cfg.write_text("low: x\n")
        with pytest.raises(ReloadError):
            s.reload()
        cfg.write_text("low: 2\n")
        s.reload()
        cfg.write_text("low: x\n")
        with pytest.raises(ReloadError):
            s.reload()
        assert s.last_error is not None and len(errors) == 2 and s.low == 2

    def test_returning_to_the_current_content_clears_the_error(self, app: Any, cfg: Path) -> None:
        """A bad edit reverted to the current content is a successful reload: last_error is cleared."""
        s, _ = app
        s.reload()
        cfg.write_text("low: x\n")
        with pytest.raises(ReloadError):
            s.reload()
        cfg.write_text(GOOD)
        assert s.reload() is None
        assert s.last_error is None
        assert s.hot_reload.metrics.consecutive_failures == 0

    def test_equivalent_content_clears_the_error(self, app: Any, cfg: Path) -> None:
        """A bad edit fixed into different bytes with the same values (a comment) also clears last_error."""
        s, _ = app
        cfg.write_text("low: x\n")
        with pytest.raises(ReloadError):
            s.reload()
        cfg.write_text("# fixed\n" + GOOD)
        assert s.reload() is None
        assert s.last_error is None
        assert s.hot_reload.metrics.consecutive_failures == 0


class TestCheck:
    """``check()``: validate without applying."""

    def test_valid(self, app: Any, cfg: Path) -> None:
        """check() on a good candidate says valid and applies nothing."""
        s, _ = app
        cfg.write_text("low: 2\nhigh: 3\n")
        result = s.check()
        assert isinstance(result, ValidationResult)
        assert result and result.is_valid and result.errors == () and result.stage is None
        assert s.low == 1 and len(s.history) == 1

    def test_invalid(self, app: Any, cfg: Path) -> None:
        """check() on a bad candidate reports the errors and stage without raising or recording."""
        s, errors = app
        cfg.write_text("low: 1\nhigh: 5\ndatabase:\n  pool_size: 0\n")
        result = s.check()
        assert not result
        assert result.stage == "ranges" and result.errors[0].field == "database.pool_size"
        assert isinstance(result.error, ReloadError)
        assert s.last_error is None and errors == [] and len(s.history) == 1

    def test_syntax_stage(self, app: Any, cfg: Path) -> None:
        """check() reports a parse error at the syntax stage."""
        s, _ = app
        cfg.write_text("low: [\n")
        assert s.check().stage == "syntax"

    def test_frozen_change(self, tmp_path: Path) -> None:
        """check() reports a change to a Frozen field at the change-rules stage."""
        from typing import Annotated

        from livesettings import Frozen

        cfg = tmp_path / "c.yaml"
        cfg.write_text("shard: 1\n")

        class App(ReloadableSettings):
            model_config = SettingsConfigDict(yaml_file=str(cfg), env_prefix="APP_")
            reload_config = OFF
            shard: Annotated[int, Frozen] = 0

        with App() as s:
            cfg.write_text("shard: 2\n")
            result = s.check()
            assert not result and result.stage == "change rules"
            assert isinstance(result.error, FrozenFieldError)


class TestErrorObject:
    """``ReloadError`` itself."""

    def test_pickle_round_trip(self) -> None:
        """A ReloadError pickles with its details."""
        import pickle

        err = ReloadError("bad", [ErrorDetail("a.b", "wrong", "f.yaml", 3, 4)])
        back = pickle.loads(pickle.dumps(err))
        assert (back.field, back.source, back.line, back.column) == ("a.b", "f.yaml", 3, 4)
        assert str(back) == str(err)

    def test_detail_rendering(self) -> None:
        """An ErrorDetail renders field, message and location on one line."""
        assert str(ErrorDetail("a.b", "wrong", "f.yaml", 3, 4)) == "a.b: wrong (f.yaml, line 3, column 4)"
        assert str(ErrorDetail(None, "wrong")) == "wrong"

    def test_json_dump_of_details(self) -> None:
        """Details are plain data that serialise for health endpoints."""
        from dataclasses import asdict

        detail = ErrorDetail("a", "m", "s", 1, 2)
        assert json.loads(json.dumps(asdict(detail))) == {
            "field": "a",
            "message": "m",
            "source": "s",
            "line": 1,
            "column": 2,
        }
