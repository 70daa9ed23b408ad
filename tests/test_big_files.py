"""A settings object over a big YAML file (``PACK_FROM`` bytes or more) keeps no copy of the file's bytes
once a load is accepted: its file state gives them back from the reader's packed layout, for ``explain()``
at the right lines, also after an edit was rejected; an update that takes the served file as it was never
unpacks it."""

from __future__ import annotations

import gc
import sys
import tracemalloc
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, YamlConfigSettingsSource

from livesettings import ReloadableSettings, ReloadConfig, ReloadError
from livesettings._packed import PACK_FROM

SECTIONS = 8


def document(*, extra: int = 0, port: str = "8080", keys: int = 64) -> str:
    """About 20 KiB: ``name``, sections ``s0``..``s7`` of ``keys`` values (``extra`` more in ``s2``), ``port`` last."""
    lines = ["# a big config", "name: app"]
    for s in range(SECTIONS):
        lines.append(f"s{s}:")
        lines.extend(f"  key_{k:03d}: value number {k} of section {s}" for k in range(keys + (extra if s == 2 else 0)))
    lines.append(f"port: {port}")
    return "\n".join(lines) + "\n"


def line_of(text: str, start: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if line.startswith(start))


class Big(ReloadableSettings):
    model_config = SettingsConfigDict(yaml_file="config.yaml")
    reload_config = ReloadConfig(enabled=False)
    name: str = ""
    port: int = 0
    s0: dict[str, str] = {}
    s1: dict[str, str] = {}
    s2: dict[str, str] = {}
    s3: dict[str, str] = {}
    s4: dict[str, str] = {}
    s5: dict[str, str] = {}
    s6: dict[str, str] = {}
    s7: dict[str, str] = {}


class Section(BaseModel):
    model_config = ConfigDict(extra="allow")


class BigSections(ReloadableSettings):
    """``Big`` with model sections: reusable, so the YAML source also keeps them packed (see ``_packed``)."""

    model_config = SettingsConfigDict(yaml_file="config.yaml")
    reload_config = ReloadConfig(enabled=False)
    name: str = ""
    port: int = 0
    s0: Section = Section()
    s1: Section = Section()
    s2: Section = Section()
    s3: Section = Section()
    s4: Section = Section()
    s5: Section = Section()
    s6: Section = Section()
    s7: Section = Section()


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "config.yaml"
    path.write_text(document())
    assert path.stat().st_size >= 2 * PACK_FROM
    yield path


def served_state(settings: Any, path: Path) -> Any:
    return settings._ls_engine.loader.reader.last_good[path]


class TestBytesNotKept:
    def test_a_loaded_object_retains_no_copy_of_the_file(self, config: Path) -> None:
        """Traced from before the object is built: no block the size of the file's bytes (or its text) is
        still allocated after a load, nor after a reload of a one-key edit."""
        size = sys.getsizeof(config.read_bytes())  # what a bytes object of the file allocates
        Big().close()  # classes built and modules imported before tracing
        gc.collect()
        tracemalloc.start()
        try:
            settings = Big()
            try:
                gc.collect()
                first = tracemalloc.take_snapshot()
                config.write_text(document(port="9090"))
                assert settings.reload() is not None and settings.port == 9090
                gc.collect()
                second = tracemalloc.take_snapshot()
                assert settings.s7["key_063"] == "value number 63 of section 7"
            finally:
                settings.close()
        finally:
            tracemalloc.stop()
        for snapshot in (first, second):
            big = [t.size for t in snapshot.traces if size - 64 <= t.size <= size + 64]
            assert big == [], f"a {size}-byte file's copy is still allocated: {big}"
            assert max(t.size for t in snapshot.traces) < size  # nothing as big as the file at all

    def test_the_served_state_gives_the_bytes_back(self, config: Path) -> None:
        settings = Big()
        try:
            state = served_state(settings, config)
            assert not isinstance(state._data, bytes)
            assert state.data == config.read_bytes()
        finally:
            settings.close()


class TestExplainLines:
    def test_after_an_edit_that_shifts_lines(self, config: Path) -> None:
        settings = Big()
        try:
            text = config.read_text()
            assert settings.explain("port").line == line_of(text, "port:")
            edited = document(extra=7, port="9090")  # seven more lines above ``port``
            config.write_text(edited)
            assert settings.reload() is not None
            origin = settings.explain("port")
            assert (origin.line, origin.value) == (line_of(edited, "port:"), "9090")
            assert origin.line == line_of(text, "port:") + 7
            assert settings.explain("s5.key_010").line == line_of(edited, "s5:") + 11
        finally:
            settings.close()

    def test_after_an_invalid_edit_was_rejected(self, config: Path) -> None:
        """The served config is explained at the served file's lines, not at the rejected file's."""
        settings = Big()
        try:
            text = config.read_text()
            config.write_text(document(extra=5, port="not-a-port"))  # shifts lines, and fails validation
            with pytest.raises(ReloadError):
                settings.reload()
            assert settings.port == 8080
            origin = settings.explain("port")
            assert (origin.line, origin.value) == (line_of(text, "port:"), "8080")
            assert settings.explain("s3.key_020").line == line_of(text, "s3:") + 21
            assert served_state(settings, config).data == text.encode()
        finally:
            settings.close()


class TestServedFilesAreNotUnpacked:
    @pytest.mark.parametrize("cls", [Big, BigSections], ids=["dict-sections", "packed-model-sections"])
    def test_an_update_taking_the_files_as_served_reads_no_bytes(
        self, config: Path, monkeypatch: pytest.MonkeyPatch, cls: type[ReloadableSettings]
    ) -> None:
        """What another input's feed triggers while the file feed follows the files (``digest(files_followed=True)``):
        the served file is handed on as what gives its bytes back, and the load reuses its parse without them
        (also when its sections are kept packed: the YAML source decides that without the bytes)."""
        settings: Any = cls()
        try:
            loader = settings._ls_engine.loader
            loader.digest()  # the file as the last look found it
            unpacked: list[int] = []
            decompress = zlib.decompress

            def counting(chunk: Any, *args: Any) -> bytes:
                unpacked.append(len(chunk))
                return decompress(chunk, *args)

            monkeypatch.setattr(zlib, "decompress", counting)
            now = loader.digest(files_followed=True)
            data, digest = now.files[config]
            assert callable(data) and digest == served_state(settings, config).digest and unpacked == []
            candidate = loader.load(reloading=True, prefetched=now.files, environ=now.environ)
            assert candidate.snapshot.port == 8080 and unpacked == []
            loader.committed(candidate)
            assert unpacked == []
            assert candidate.ctx.files[config].data == config.read_bytes()  # still there on demand
            assert unpacked
        finally:
            settings.close()


class Utf16(ReloadableSettings):
    model_config = SettingsConfigDict(yaml_file="config.yaml", yaml_file_encoding="utf-16")
    reload_config = ReloadConfig(enabled=False)
    name: str = ""
    port: int = 0


class Nothing(PydanticBaseSettingsSource):
    """A source of the user's own: every load builds the sources anew (see ``_sources.keepable``)."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        return {}


class Utf16Custom(Utf16):
    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, Nothing(settings_cls), YamlConfigSettingsSource(settings_cls))


@pytest.mark.parametrize("cls", [Utf16, Utf16Custom], ids=["kept-sources", "sources-rebuilt"])
@pytest.mark.parametrize("size", ["small", "big"])
def test_a_served_file_in_another_encoding_is_not_transcoded_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, size: str, cls: type[ReloadableSettings]
) -> None:
    """A served state keeps the UTF-8 bytes it was parsed from: a load taking it as served (another
    input's feed) must not decode them as the file's declared encoding once more, also when the
    load builds its sources anew (a source of the user's own is among them)."""
    monkeypatch.chdir(tmp_path)
    pad = "".join(f"# padding line {i}\n" for i in range(PACK_FROM // 16)) if size == "big" else ""
    text = f"{pad}name: café\nport: 8080\n"
    (tmp_path / "config.yaml").write_bytes(text.encode("utf-16"))
    settings: Any = cls()
    try:
        loader = settings._ls_engine.loader
        loader.digest()
        now = loader.digest(files_followed=True)
        # Taken as served only while the sources are kept (they are not run again: nothing decodes);
        # sources built anew read the file again, as it is on disk.
        assert (loader._served_files(now.environ) is not None) == (cls is Utf16)
        candidate = loader.load(reloading=True, prefetched=now.files, environ=now.environ)
        assert (candidate.snapshot.name, candidate.snapshot.port) == ("café", 8080)
        loader.committed(candidate)
        path = tmp_path / "config.yaml"
        assert candidate.ctx.files[path].data == text.encode()  # the text it was parsed from, as UTF-8
        assert settings.explain("port").line == text.count("\n")
    finally:
        settings.close()
