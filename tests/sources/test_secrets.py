"""Tests for ``secrets_dir``: read through livesettings' FileReader (checked before reading), recorded, masked."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from livesettings import ReloadableSettings, ReloadConfig, ReloadError
from livesettings.exceptions import SourceError, UntrustedSourceError

LIMIT = 4096


def _app(secrets: Path, **config: object) -> type[ReloadableSettings]:
    class App(ReloadableSettings):
        model_config = SettingsConfigDict(secrets_dir=str(secrets))
        reload_config = ReloadConfig(enabled=False, max_file_bytes=LIMIT, **config)  # type: ignore[arg-type]
        token: SecretStr = SecretStr("")
        port: int = 1

    return App


def _bytes_read() -> int:
    """Bytes this process has read through read(2) so far (Linux ``/proc/self/io``)."""
    with open("/proc/self/io", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("rchar:"):
                return int(line.split()[1])
    raise AssertionError("no rchar line")


@pytest.fixture
def secrets(tmp_path: Path) -> Path:
    path = tmp_path / "secrets"
    path.mkdir()
    return path


class TestSizeLimit:
    """An oversized secret file is refused from its metadata, before a byte of it is read."""

    @pytest.mark.skipif(not os.path.exists("/proc/self/io"), reason="needs Linux /proc/self/io to count bytes read")
    def test_oversized_secret_refused_without_reading_it_at_start(self, secrets: Path) -> None:
        """A sparse 64 MiB secret file over a 4 KiB limit is refused at start-up having read almost nothing."""
        big = secrets / "token"
        big.touch()
        os.truncate(big, 64 * 2**20)
        before = _bytes_read()
        with pytest.raises(UntrustedSourceError, match="over the limit") as info:
            _app(secrets)()
        assert _bytes_read() - before < 8 * 2**20  # the file itself was never read
        assert info.value.source == str(big)

    @pytest.mark.parametrize("strict", [False, True])
    def test_oversized_secret_refused_on_reload(self, secrets: Path, strict: bool) -> None:
        """A secret file that grows past the limit rejects the reload; the old secret keeps serving.

        The limit of a secret file is pydantic-settings' ``secrets_dir_max_size`` (16 MiB), or
        ``max_file_bytes`` with ``strict_sources``.
        """
        (secrets / "token").write_text("one")
        with _app(secrets, strict_sources=strict)() as s:
            os.truncate(secrets / "token", (LIMIT if strict else 16 * 2**20) + 1)  # sparse: never read
            with pytest.raises(UntrustedSourceError, match="over the limit"):
                s.reload()
            assert s.token.get_secret_value() == "one"


class TestTrust:
    """Secret files pass the same trust checks as config files."""

    def test_symlink_out_of_the_directory_refused_in_strict_mode(self, secrets: Path, tmp_path: Path) -> None:
        """With strict_sources, a secret that resolves outside its directory is refused loudly."""
        outside = tmp_path / "elsewhere"
        outside.write_text("stolen")
        os.symlink(outside, secrets / "token")
        with pytest.raises(UntrustedSourceError, match="outside the allowed roots"):
            _app(secrets, strict_sources=True)()

    def test_symlink_out_of_the_directory_skipped_by_default(self, secrets: Path, tmp_path: Path) -> None:
        """By default it is skipped with pydantic-settings' warning, and its content never used."""
        outside = tmp_path / "elsewhere"
        outside.write_text("stolen")
        os.symlink(outside, secrets / "token")
        with pytest.warns(UserWarning, match="resolves outside of"), _app(secrets)() as s:
            assert s.token.get_secret_value() != "stolen"

    def test_kubernetes_layout(self, secrets: Path) -> None:
        """A Kubernetes secret volume (``token -> ..data/token``, ``..data -> ..2024_x``) loads."""
        stamp = secrets / "..2024_01_01"
        stamp.mkdir()
        (stamp / "token").write_text("k8s\n")
        os.symlink(stamp.name, secrets / "..data")
        os.symlink("..data/token", secrets / "token")
        with _app(secrets)() as s:
            assert s.token.get_secret_value() == "k8s"

    def test_world_writable_secret_refused(self, secrets: Path) -> None:
        """A world-writable secret file is refused."""
        (secrets / "token").write_text("x")
        os.chmod(secrets / "token", 0o666)
        with pytest.raises(UntrustedSourceError, match="world-writable"):
            _app(secrets)()

    def test_invalid_utf8_does_not_show_bytes(self, secrets: Path) -> None:
        """A secret that is not UTF-8 is a SourceError naming the file and showing none of its bytes."""
        (secrets / "token").write_bytes(b"ab\xffPLANT")
        with pytest.raises(SourceError) as info:
            _app(secrets)()
        assert info.value.source == str(secrets / "token")
        assert "PLANT" not in str(info.value) and "ff" not in str(info.value).lower().replace("offset", "")


class TestRecords:
    """The secrets source records what it read, for error attribution and provenance."""

    def test_source_record(self, secrets: Path) -> None:
        """A load records ``SourceRecord("secrets", data, files)`` naming the files it read."""
        (secrets / "token").write_text("PLANT-one\n")
        (secrets / "unrelated").write_text("x")
        with _app(secrets)() as s:
            ctx = s._ls_engine.loader.load(reloading=True).ctx
        records = [r for r in ctx.records if r.label == "secrets"]
        assert len(records) == 1
        assert records[0].files == (secrets / "token",)
        assert records[0].data["token"] == "PLANT-one"
        assert "PLANT" not in repr(records[0])  # the record's repr never shows what it read
        assert ctx.files[secrets / "unrelated"].digest is not None  # watched for changes all the same

    def test_error_names_the_secret_file_and_hides_the_value(self, secrets: Path) -> None:
        """A bad value from a secret file names that file and is never echoed, whatever the field's name."""
        (secrets / "port").write_text("PLANT-not-a-number")
        with pytest.raises(ReloadError) as info:
            _app(secrets)()
        detail = info.value.details[0]
        assert detail.field == "port" and detail.source == str(secrets / "port")
        assert "PLANT" not in str(info.value)
