"""The public livesettings.testing helpers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pytest
from pydantic import BaseModel, Field
from pydantic_settings import SettingsConfigDict

from livesettings import Frozen, ReloadableSettings, ReloadConfig, ReloadError
from livesettings.testing import capture_changes, override


class Pool(BaseModel):
    size: int = Field(default=5, ge=1)
    shard: Annotated[int, Frozen] = 1


def _settings(tmp_path: Path) -> ReloadableSettings:
    (tmp_path / "c.yaml").write_text("pool: {size: 5}\n")

    class Settings(ReloadableSettings):
        model_config = SettingsConfigDict(yaml_file=str(tmp_path / "c.yaml"))
        reload_config = ReloadConfig(enabled=False)
        pool: Pool = Pool()

    return Settings()


class TestOverride:
    """override() applies values through the normal pipeline."""

    def test_aliased_nested_field_by_name(self, tmp_path: Path) -> None:
        """A field with an alias (and no populate_by_name) is overridden by its name, aliases untouched."""

        class Limits(BaseModel):
            rpm: int = Field(60, alias="requestsPerMinute")
            burst: int = Field(5, alias="burstSize")

        (tmp_path / "c.yaml").write_text("limits: {requestsPerMinute: 100, burstSize: 7}\n")

        class Settings(ReloadableSettings):
            model_config = SettingsConfigDict(yaml_file=str(tmp_path / "c.yaml"))
            reload_config = ReloadConfig(enabled=False)
            limits: Limits = Limits()

        with Settings() as s:
            version = override(s, {"limits.rpm": 5}).version
            assert version is not None and [c.path for c in version.changes] == ["limits.rpm"]
            assert (s.limits.rpm, s.limits.burst) == (5, 7)  # type: ignore[attr-defined]

    def test_applies_and_notifies(self, tmp_path: Path) -> None:
        """An override becomes a version with source 'override' and handlers see its diff."""
        with _settings(tmp_path) as s, capture_changes(s) as diffs:
            version = override(s, {"pool.size": 20}).version
            assert version is not None and version.source == "override"
            assert s.pool.size == 20  # type: ignore[attr-defined]
            assert [(c.path, c.old_value, c.new_value) for c in diffs[0].changes] == [("pool.size", 5, 20)]

    def test_invalid_override_is_rejected(self, tmp_path: Path) -> None:
        """Values are validated: a range error raises ReloadError naming the field and nothing changes."""
        with _settings(tmp_path) as s:
            with pytest.raises(ReloadError, match="pool.size"):
                override(s, {"pool.size": 0})
            assert s.pool.size == 5  # type: ignore[attr-defined]

    def test_change_rules_apply(self, tmp_path: Path) -> None:
        """A Frozen field cannot be overridden either."""
        with _settings(tmp_path) as s:
            with pytest.raises(ReloadError, match="Frozen"):
                override(s, {"pool.shard": 2})

    def test_sources_are_not_read(self, tmp_path: Path) -> None:
        """An override validates the values alone: a broken file on disk does not get in its way."""
        with _settings(tmp_path) as s:
            (tmp_path / "c.yaml").write_text("pool: [not, valid\n")
            version = override(s, {"pool.size": 7}).version
            assert version is not None and s.pool.size == 7  # type: ignore[attr-defined]

    def test_same_value_is_no_version(self, tmp_path: Path) -> None:
        """Overriding with the current value makes no version."""
        with _settings(tmp_path) as s:
            assert override(s, {"pool.size": 5}).version is None
            assert len(s.history) == 1
