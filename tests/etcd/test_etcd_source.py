"""EtcdSource (key layout, precedence, the load seam) and EtcdFeed (delivery, status, ACK/NACK), with a real etcd."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest
from etcd_server import EtcdServer, wait_until, etcd, etcd_private, prefix  # noqa: F401 (fixtures)
from etcd_harness import Driven, app_class
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from livesettings import ReloadError
from livesettings._etcd.client import PrefixState
from livesettings._etcd.feed import ack_key
from livesettings._etcd.source import ENDPOINT_ENV, decode_prefix, mirrors
from livesettings.exceptions import SourceError
from livesettings.sources import EtcdSource

P = "apps/web/"


def state(**kvs: str) -> PrefixState:
    return PrefixState(7, {(P + k.replace("__", "/") if k != "doc" else P): v.encode() for k, v in kvs.items()})


class TestKeyLayout:
    """The key P holds a document; P + a/b holds the value at a.b; deeper keys win."""

    def test_document_and_leaves(self) -> None:
        """Leaf keys are parsed as YAML and placed at their dotted path, over the document."""
        data, _ = decode_prefix(state(doc="port: 1\ndb: {host: h, port: 2}\n", db__port="3", name="web"), P)
        assert data == {"port": 1, "db": {"host": "h", "port": 3}, "name": "web"}

    def test_deeper_keys_win(self) -> None:
        """``db`` holding a mapping loses to ``db/port``, whatever the order of the keys."""
        data, _ = decode_prefix(state(db__port="9", db="{port: 1, host: x}"), P)
        assert data == {"db": {"port": 9, "host": "x"}}

    def test_yaml_values(self) -> None:
        """Values are YAML: ints, lists, mappings, quoted strings, and an empty value is null."""
        data, _ = decode_prefix(state(a="5", b="[1, 2]", c="{x: 1}", d="'5'", e=""), P)
        assert data == {"a": 5, "b": [1, 2], "c": {"x": 1}, "d": "5", "e": None}

    def test_invalid_value_names_the_key_and_revision(self) -> None:
        """A value that is not YAML is a SourceError naming the etcd key and the revision."""
        with pytest.raises(SourceError, match=r"etcd key apps/web/db/port \(revision 7\)"):
            decode_prefix(state(db__port="[1, 2"), P)

    def test_document_must_be_a_mapping(self) -> None:
        """The document key must hold a mapping."""
        with pytest.raises(SourceError, match="top level must be a mapping"):
            decode_prefix(state(doc="- 1\n- 2\n"), P)

    def test_empty_path_segment_is_refused(self) -> None:
        """A key like P + 'a//b' is refused rather than guessed at."""
        with pytest.raises(SourceError, match="empty path segment"):
            decode_prefix(PrefixState(1, {P + "a//b": b"1"}), P)

    def test_records_deepest_first(self) -> None:
        """Attribution records list the winning (deepest) key first."""
        _, records = decode_prefix(state(doc="db: {port: 1}", db__port="2"), P)
        assert records[0].label.startswith("etcd key apps/web/db/port")
        assert records[-1].label.startswith("etcd key apps/web/ ")


def plain_class(endpoint: str, prefix: str, *, etcd_first: bool) -> type[BaseSettings]:
    class Plain(BaseSettings):
        port: int = 1
        name: str = "default"

        @classmethod
        def settings_customise_sources(
            cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            etcd = EtcdSource(settings_cls, prefix, endpoint)
            return (etcd, env_settings) if etcd_first else (env_settings, etcd)

    return Plain


class TestEtcdSource:
    """The source in pydantic-settings, alone and inside an engine load."""

    def test_plain_basesettings_reads_the_prefix(self, etcd: EtcdServer, prefix: str) -> None:
        """Outside an engine load the source is a plain range over the prefix."""
        etcd.put(prefix + "port", "8080")
        assert plain_class(etcd.url, prefix, etcd_first=True)().port == 8080  # type: ignore[attr-defined]

    @pytest.mark.parametrize("etcd_first", [True, False])
    def test_precedence_with_the_environment(
        self, etcd: EtcdServer, prefix: str, etcd_first: bool, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """etcd and environment variables combine in the declared order."""
        etcd.put(prefix + "name", "from-etcd")
        monkeypatch.setenv("NAME", "from-env")
        got = plain_class(etcd.url, prefix, etcd_first=etcd_first)().name  # type: ignore[attr-defined]
        assert got == ("from-etcd" if etcd_first else "from-env")

    def test_endpoint_from_the_environment(self, etcd: EtcdServer, prefix: str, monkeypatch: pytest.MonkeyPatch) -> None:
        """Without an endpoint argument, LIVESETTINGS_ETCD_ENDPOINT is used; without either, a clear error."""
        etcd.put(prefix + "port", "7")
        monkeypatch.setenv(ENDPOINT_ENV, etcd.url)
        assert EtcdSource(BaseSettings, prefix)() == {"port": 7}
        monkeypatch.delenv(ENDPOINT_ENV)
        with pytest.raises(ValueError, match=ENDPOINT_ENV):
            EtcdSource(BaseSettings, prefix)

    def test_repr_of_an_instance_whose_init_failed(self, prefix: str, monkeypatch: pytest.MonkeyPatch) -> None:
        """A traceback or debugger showing a half-built source gets a repr, not an AttributeError."""
        monkeypatch.delenv(ENDPOINT_ENV, raising=False)
        half = EtcdSource.__new__(EtcdSource)
        with pytest.raises(ValueError, match=ENDPOINT_ENV):
            half.__init__(BaseSettings, prefix)  # type: ignore[misc]
        assert repr(half).startswith("EtcdSource(")
        assert repr(EtcdSource(BaseSettings, prefix, "http://u:secret@127.0.0.1:9")) == f"EtcdSource('http://127.0.0.1:9', {prefix!r})"

    def test_unreachable_is_a_source_error(self, prefix: str) -> None:
        """An etcd that cannot be reached fails the load with a SourceError naming the endpoint."""
        with pytest.raises(SourceError, match="cannot read etcd.*127.0.0.1:9"):
            EtcdSource(BaseSettings, prefix, "http://127.0.0.1:9", timeout=0.5)()

    def test_registers_input_and_feed_in_an_engine_load(self, etcd: EtcdServer, prefix: str) -> None:
        """Inside a load the source records its revision as the input digest and offers a feed factory."""
        rev = etcd.put(prefix + "port", "9000")
        settings = app_class(etcd.url, prefix)()
        try:
            assert settings.port == 9000  # type: ignore[attr-defined]
            (key, mirror), = mirrors(settings._ls_engine.loader.reader).items()  # type: ignore[attr-defined]
            assert key == f"etcd:{etcd.url}{prefix}"
            assert mirror.current() == str(rev)
        finally:
            settings.close()

    def test_validation_error_names_the_etcd_key(self, etcd: EtcdServer, prefix: str) -> None:
        """A bad value is reported with the etcd key and revision it came from."""
        rev = etcd.put(prefix + "db/port", "not-a-port")
        with pytest.raises(ReloadError) as info:
            app_class(etcd.url, prefix)()
        assert info.value.field == "db.port"
        assert info.value.source == f"etcd key {prefix}db/port (revision {rev})"

    def test_import_is_lazy_and_names_the_extra(self) -> None:
        """Importing livesettings.sources does not import etcd3gw; without it EtcdSource names the extra."""
        code = (
            "import sys\n"
            "import livesettings.sources as s\n"
            "assert 'etcd3gw' not in sys.modules\n"
            "sys.modules['etcd3gw'] = None\n"
            "try:\n    s.EtcdSource\nexcept ImportError as e:\n    print(e)\n"
        )
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
        assert "livesettings[etcd]" in out.stdout


def record(etcd: EtcdServer, prefix: str, instance: str) -> dict[str, Any] | None:
    raw = etcd.get(ack_key(prefix, instance))
    return None if raw is None else dict(json.loads(raw))


class TestFeedDriven:
    """The feed delivers each revision, the source reads it, and the outcome becomes an ACK/NACK record."""

    def test_applies_and_acks_each_revision(self, etcd: EtcdServer, prefix: str) -> None:
        """A put is applied and ACKed with its revision, the version id, host and pid."""
        etcd.put(prefix + "port", "1")
        with Driven(app_class(etcd.url, prefix)()).start() as d:
            wait_until(lambda: record(etcd, prefix, d.feed.instance))  # the start-up record
            rev = etcd.put(prefix + "port", "2")
            wait_until(lambda: d.settings.port == 2)  # type: ignore[attr-defined]
            got = wait_until(lambda: (r := record(etcd, prefix, d.feed.instance)) and r["revision"] == rev and r)
            assert got["ok"] is True and got["error"] is None
            assert got["version"] == d.settings.version.id
            assert got["pid"] == os.getpid() and got["host"] and got["time"].endswith("Z")
            assert set(got) == {"instance", "revision", "ok", "error", "version", "host", "pid", "time"}
            assert d.delivered == [rev]

    def test_rejected_revision_is_nacked_and_last_good_kept(self, etcd: EtcdServer, prefix: str) -> None:
        """An invalid value is never applied: the record says rejected with the error, the old value serves."""
        etcd.put(prefix + "port", "1")
        with Driven(app_class(etcd.url, prefix)()).start() as d:
            good = d.settings.version.id
            bad = etcd.put(prefix + "port", "not-a-number")
            got = wait_until(lambda: (r := record(etcd, prefix, d.feed.instance)) and r["revision"] == bad and r)
            assert got["ok"] is False and "port" in got["error"]
            assert got["version"] == good
            assert d.settings.port == 1  # type: ignore[attr-defined]
            fixed = etcd.put(prefix + "port", "3")
            wait_until(lambda: d.settings.port == 3)  # type: ignore[attr-defined]
            wait_until(lambda: (r := record(etcd, prefix, d.feed.instance)) and r["revision"] == fixed and r["ok"])

    def test_multi_key_txn_is_one_version(self, etcd: EtcdServer, prefix: str) -> None:
        """Three keys written in one transaction make exactly one new version with all three changes."""
        etcd.put(prefix + "port", "1")
        with Driven(app_class(etcd.url, prefix)()).start() as d:
            before = len(d.settings.history)
            etcd.txn_put({prefix + "port": "2", prefix + "name": "n", prefix + "db/host": "h"})
            wait_until(lambda: d.settings.port == 2)  # type: ignore[attr-defined]
            assert len(d.settings.history) == before + 1
            assert {c.path for c in d.settings.version.changes} == {"port", "name", "db.host"}

    def test_an_emptied_prefix_is_rejected(self, etcd: EtcdServer, prefix: str) -> None:
        """Deleting every key (a wiped store looks the same) keeps the last good config instead of the defaults."""
        etcd.put(prefix + "port", "5")
        with Driven(app_class(etcd.url, prefix)()).start() as d:
            gone = etcd.delete(prefix + "port")
            wait_until(lambda: d.outcomes and d.outcomes[-1].inputs[d.feed.key] == str(gone))
            assert d.outcomes[-1].result == "rejected" and "wiped" in (d.outcomes[-1].error or "")
            assert d.settings.port == 5  # type: ignore[attr-defined]

    def test_close_revokes_the_record(self, etcd: EtcdServer, prefix: str) -> None:
        """Closing the feed joins its threads and removes its record at once (the lease is revoked)."""
        etcd.put(prefix + "port", "1")
        d = Driven(app_class(etcd.url, prefix)()).start()
        wait_until(lambda: record(etcd, prefix, d.feed.instance))
        d.close()
        assert record(etcd, prefix, d.feed.instance) is None
        assert d.feed.status is not None and d.feed.status.state == "closed"

    def test_status_degraded_while_etcd_is_down(self, etcd_private: EtcdServer, prefix: str) -> None:
        """With etcd down the status says degraded with a growing time since contact; the config keeps serving."""
        etcd = etcd_private
        etcd.put(prefix + "port", "1")
        with Driven(app_class(etcd.url, prefix)()).start() as d:
            wait_until(lambda: d.feed.status is not None and d.feed.status.state == "running")
            etcd.stop()
            status = wait_until(lambda: (s := d.feed.status) and s.state == "degraded" and s)
            assert status.error
            wait_until(lambda: (s := d.feed.status) and s.since_contact_s is not None and s.since_contact_s > 0.5)
            assert d.settings.port == 1  # type: ignore[attr-defined]
            etcd.start()
            rev = etcd.put(prefix + "port", "2")
            wait_until(lambda: d.settings.port == 2)  # type: ignore[attr-defined]
            wait_until(lambda: (s := d.feed.status) and s.state == "running" and s.since_contact_s < 5)
            wait_until(lambda: (r := record(etcd, prefix, d.feed.instance)) and r["revision"] == rev)


class TestEngineWiring:
    """Hot reload through the engine alone (no driver): the engine starts the feed and reports to it."""

    def test_engine_applies_an_etcd_put(self, etcd: EtcdServer, prefix: str) -> None:
        """With watching on, a put under the prefix is applied by the engine's own feed."""
        etcd.put(prefix + "port", "1")
        settings = app_class(etcd.url, prefix, watch=True)()
        try:
            etcd.put(prefix + "port", "2")
            wait_until(lambda: settings.port == 2, timeout=3)  # type: ignore[attr-defined]
        finally:
            settings.close()

    def test_engine_reports_outcomes_to_the_feed(self, etcd: EtcdServer, prefix: str) -> None:
        """The engine ACKs a rejected revision through the feed's report()."""
        etcd.put(prefix + "port", "1")
        settings = app_class(etcd.url, prefix, watch=True, instance="engine-wired")()
        try:
            bad = etcd.put(prefix + "port", "x")
            wait_until(lambda: (r := record(etcd, prefix, "engine-wired")) and r["revision"] == bad, timeout=3)
        finally:
            settings.close()


class TestEtcdUpdatesBesideFiles:
    """An etcd update while the file feed follows a YAML file: the file is not read again unless in doubt."""

    @staticmethod
    def settings(etcd: EtcdServer, prefix: str, path: Any) -> Any:
        from pydantic_settings import SettingsConfigDict

        from livesettings import ReloadableSettings, ReloadConfig

        class Mixed(ReloadableSettings):
            model_config = SettingsConfigDict(yaml_file=str(path))
            reload_config = ReloadConfig(enabled=True, debounce_ms=20)
            port: int = 0
            name: str = "x"

            @classmethod
            def settings_customise_sources(
                cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
                file_secret_settings: PydanticBaseSettingsSource,
            ) -> tuple[PydanticBaseSettingsSource, ...]:
                return (init_settings, EtcdSource(settings_cls, prefix, etcd.url, instance="mixed", progress_interval=1.0))

        return Mixed()

    def test_files_are_read_only_when_they_may_have_changed(self, etcd: EtcdServer, prefix: str, tmp_path: Any) -> None:
        """Etcd updates take the served file as it was; a rejected file is still read (and still NACKs
        the next revision with its error); once fixed, the file feed applies it and etcd updates skip it again."""
        path = tmp_path / "app.yaml"
        path.write_text("name: one\n")
        etcd.put(prefix + "port", "1")
        settings = self.settings(etcd, prefix, path)
        engine = settings._ls_engine
        reader = engine.loader.reader
        fetched: list[Any] = []
        fetch = reader.fetch

        def counting(p: Any) -> Any:
            fetched.append(p)
            return fetch(p)

        reader.fetch = counting
        try:
            etcd_key = next(k for k in engine.loader.feeds() if k.startswith("etcd:"))
            wait_until(lambda: "files" in engine.feeds and (f := engine.feeds.get(etcd_key)) and f.status.state == "running")
            for port in (2, 3):
                fetched.clear()
                etcd.put(prefix + "port", str(port))
                wait_until(lambda port=port: settings.port == port)
            assert fetched == []  # the second update read no file (the first one looked once)
            assert settings.name == "one"

            path.write_text("name: [unclosed\n")
            wait_until(lambda: engine.health.last_error is not None)  # the file feed's reload rejected it
            fetched.clear()
            bad = etcd.put(prefix + "port", "4")
            got = wait_until(lambda: (r := record(etcd, prefix, "mixed")) and r["revision"] == bad and r)
            assert got["ok"] is False and "app.yaml" in got["error"]  # the file is read: it is why
            assert fetched and settings.port == 3

            path.write_text("name: two\n")
            wait_until(lambda: settings.name == "two" and settings.port == 4)
            etcd.put(prefix + "port", "5")
            wait_until(lambda: settings.port == 5)
            fetched.clear()
            etcd.put(prefix + "port", "6")
            wait_until(lambda: settings.port == 6)
            assert fetched == [] and settings.name == "two"
        finally:
            settings.close()
