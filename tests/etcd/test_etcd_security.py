"""TLS and etcd users against a real etcd: https with a throwaway CA, client certificates, tokens.

The TLS server runs with ``--cert-file/--key-file/--trusted-ca-file/--client-cert-auth`` on
https://127.0.0.1; auth is turned on through the gateway's ``/v3/auth/*`` calls. Every test
also checks that no credential (password, token, client key) leaks into what it can see.
"""

from __future__ import annotations

import contextlib
import io
import logging
import pickle
import signal
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic_settings import BaseSettings
from etcd_harness import Driven, app_class
from etcd_server import (  # noqa: F401 (fixtures)
    EtcdServer,
    ServerTls,
    TlsSetup,
    etcd_private,
    etcd_tls,
    prefix,
    tls_setup,
    wait_until,
)

from livesettings._etcd.client import EtcdAuthError, EtcdClient, EtcdTLSError
from livesettings._etcd.feed import ack_key, acks_prefix
from livesettings.cli import main
from livesettings.exceptions import SourceError
from livesettings.sources import EtcdSource

APP_PASSWORD = "app-Pa55word-7f3c"
WRONG_PASSWORD = "wrong-Pa55word-91ab"


def record(etcd: EtcdServer, prefix: str, instance: str) -> dict[str, Any] | None:
    import json

    raw = etcd.get(ack_key(prefix, instance))
    return None if raw is None else dict(json.loads(raw))


def everything_said(exc: BaseException) -> str:
    """An exception as a user could see it: message, repr, and the whole printed chain."""
    return "\n".join([str(exc), repr(exc), *traceback.format_exception(exc)])


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Every log record at DEBUG (livesettings, urllib3, requests), to check for leaked credentials."""
    caplog.set_level(logging.DEBUG)
    yield caplog


def tls_options(setup: TlsSetup, **extra: Any) -> dict[str, Any]:
    return {"ca_cert": str(setup.ca.ca_file), "cert_cert": str(setup.client.cert), "cert_key": str(setup.client.key), **extra}


class TestTls:
    """https with a CA file, client certificates, and what happens when the server is not trusted."""

    def test_source_watch_and_ack_over_mutual_tls(
        self, etcd_tls: EtcdServer, prefix: str, tls_setup: TlsSetup, monkeypatch: pytest.MonkeyPatch,
        debug_logs: pytest.LogCaptureFixture,
    ) -> None:
        """Load, watch and ACK over https with a client certificate; the given CA wins over REQUESTS_CA_BUNDLE."""
        etcd = etcd_tls
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tls_setup.other.ca_file))  # a wrong CA: must be ignored
        monkeypatch.setenv("CURL_CA_BUNDLE", str(tls_setup.other.ca_file))
        etcd.put(prefix + "port", "1")
        with Driven(app_class(etcd.url, prefix, **tls_options(tls_setup))()).start() as d:
            assert d.settings.port == 1  # type: ignore[attr-defined]
            wait_until(lambda: (s := d.feed.status) and s.state == "running")
            rev = etcd.put(prefix + "port", "2")
            wait_until(lambda: d.settings.port == 2)  # type: ignore[attr-defined]
            got = wait_until(lambda: (r := record(etcd, prefix, d.feed.instance)) and r["revision"] == rev and r)
            assert got["ok"] is True
            assert d.delivered == [rev]
            assert d.feed.status is not None and d.feed.status.endpoint.startswith("https://127.0.0.1:")
            assert d.feed._writer is not None and d.feed._writer.fast_writes >= 1  # over its own TLS connection
        key_text = tls_setup.client.key.read_text()
        body = key_text.splitlines()[1]  # a line of the key's base64
        assert body not in debug_logs.text

    def test_the_environment_bundle_is_used_without_ca_cert(
        self, etcd_tls: EtcdServer, prefix: str, tls_setup: TlsSetup, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Without ca_cert the usual REQUESTS_CA_BUNDLE applies (here: the right CA), as for any requests user."""
        etcd_tls.put(prefix + "port", "3")
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tls_setup.ca.ca_file))
        client = EtcdClient(etcd_tls.url, cert_cert=str(tls_setup.client.cert), cert_key=str(tls_setup.client.key))
        assert client.range(prefix).kvs == {prefix + "port": b"3"}

    def test_wrong_ca_is_refused_with_a_clear_error(self, etcd_tls: EtcdServer, prefix: str, tls_setup: TlsSetup) -> None:
        """A CA that did not sign the server's certificate: start-up fails saying so, naming ca_cert."""
        etcd_tls.put(prefix + "port", "1")
        cls = app_class(etcd_tls.url, prefix, **tls_options(tls_setup, ca_cert=str(tls_setup.other.ca_file)), timeout=2)
        with pytest.raises(SourceError) as info:
            cls()
        text = str(info.value)
        assert "certificate is not trusted" in text and "ca_cert" in text and etcd_tls.url in text
        with pytest.raises(EtcdTLSError, match="not trusted"):
            EtcdClient(etcd_tls.url, **tls_options(tls_setup, ca_cert=str(tls_setup.other.ca_file))).range(prefix)

    def test_missing_client_certificate_is_refused(self, etcd_tls: EtcdServer, prefix: str, tls_setup: TlsSetup) -> None:
        """etcd's --client-cert-auth refuses a client without a certificate, and one from another CA."""
        with pytest.raises(EtcdTLSError, match="may require a client certificate.*cert_cert and cert_key"):
            EtcdClient(etcd_tls.url, ca_cert=str(tls_setup.ca.ca_file)).range(prefix)
        stranger = tls_setup.other.issue("stranger")
        with pytest.raises(EtcdTLSError, match="refused the client certificate"):
            EtcdClient(
                etcd_tls.url, ca_cert=str(tls_setup.ca.ca_file), cert_cert=str(stranger.cert), cert_key=str(stranger.key)
            ).range(prefix)

    def test_options_are_checked_when_the_source_is_made(self, tls_setup: TlsSetup, tmp_path: Path) -> None:
        """Half a client certificate, a missing file, or TLS files with an http:// endpoint: a ValueError at once."""
        url = "https://127.0.0.1:2379"
        with pytest.raises(ValueError, match="both cert_cert.*and cert_key"):
            EtcdSource(BaseSettings, "a/", url, cert_cert=str(tls_setup.client.cert))
        with pytest.raises(ValueError, match="ca_cert: no such file"):
            EtcdSource(BaseSettings, "a/", url, ca_cert=str(tmp_path / "nope.pem"))
        with pytest.raises(ValueError, match="no endpoint uses https"):
            EtcdSource(BaseSettings, "a/", "http://127.0.0.1:2379", ca_cert=str(tls_setup.ca.ca_file))

    def test_untrusted_server_mid_watch_keeps_the_last_good_config(
        self, etcd_tls: EtcdServer, prefix: str, tls_setup: TlsSetup
    ) -> None:
        """etcd comes back with a certificate from a CA we do not trust: degraded with the TLS reason, nothing
        applied, the last good config serving; with the right certificate again it catches up."""
        etcd = etcd_tls
        assert etcd.tls is not None
        good_tls = etcd.tls
        etcd.put(prefix + "port", "1")
        with Driven(app_class(etcd.url, prefix, **tls_options(tls_setup), timeout=2)()).start() as d:
            wait_until(lambda: (s := d.feed.status) and s.state == "running")
            impostor = tls_setup.other.issue("server", server=True)
            # The gateway dials etcd with the server certificate: etcd must trust both CAs meanwhile.
            etcd.tls = ServerTls(impostor.cert, impostor.key, tls_setup.both, good_tls.verify,
                                 good_tls.client_cert, good_tls.client_key)
            etcd.restart()
            during = etcd.put(prefix + "port", "2")
            status = wait_until(lambda: (s := d.feed.status) and "not trusted" in (s.error or "") and s, timeout=20)
            assert status.state == "degraded" and "ca_cert" in (status.error or "")
            assert d.settings.port == 1  # type: ignore[attr-defined]
            assert during not in d.delivered
            etcd.tls = good_tls
            etcd.restart()
            wait_until(lambda: d.settings.port == 2, timeout=20)  # type: ignore[attr-defined]
            wait_until(lambda: (s := d.feed.status) and s.state == "running")
            wait_until(lambda: (r := record(etcd, prefix, d.feed.instance)) and r["revision"] >= during, timeout=20)
            assert d.delivered == [during]

    def test_fleet_command_over_tls(self, etcd_tls: EtcdServer, prefix: str, tls_setup: TlsSetup) -> None:
        """`livesettings fleet` takes --ca-cert, --cert and --key; a wrong CA exits 1 with the TLS reason."""
        etcd_tls.put(acks_prefix(prefix) + "m0", '{"instance": "m0", "revision": 5, "ok": true, "error": null}')
        base = ["fleet", "--etcd", etcd_tls.url, "--prefix", prefix, "--cert", str(tls_setup.client.cert),
                "--key", str(tls_setup.client.key)]
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            assert main([*base, "--ca-cert", str(tls_setup.ca.ca_file), "--json"]) == 0, err.getvalue()
        assert '"m0"' in out.getvalue()
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main([*base, "--ca-cert", str(tls_setup.other.ca_file)])
        assert code == 1 and "not trusted" in err.getvalue()


@pytest.fixture
def etcd_auth(etcd_private: EtcdServer, prefix: str) -> EtcdServer:
    """A private etcd with auth on: root, and user ``app`` that may read the prefix and write its ACKs."""
    etcd_private.enable_auth()
    etcd_private.add_user("app", APP_PASSWORD, read=[prefix], readwrite=[acks_prefix(prefix)])
    return etcd_private


def auth_class(etcd: EtcdServer, prefix: str, password: str = APP_PASSWORD, **options: Any) -> type[Any]:
    return app_class(etcd.url, prefix, username="app", password=password, **options)


class TestAuth:
    """etcd users: a token from /v3/auth/authenticate, renewed when etcd refuses it; wrong passwords."""

    def test_source_watch_and_ack_as_a_user(
        self, etcd_auth: EtcdServer, prefix: str, debug_logs: pytest.LogCaptureFixture
    ) -> None:
        """Load, watch and ACK as user ``app``; neither the password nor the token shows anywhere."""
        etcd = etcd_auth
        etcd.put(prefix + "port", "1")
        with Driven(auth_class(etcd, prefix)()).start() as d:
            rev = etcd.put(prefix + "port", "2")
            wait_until(lambda: d.settings.port == 2)  # type: ignore[attr-defined]
            got = wait_until(lambda: (r := record(etcd, prefix, d.feed.instance)) and r["revision"] == rev and r)
            assert d.feed._writer is not None and d.feed._writer.fast_writes >= 1  # with the token, on its own connection
            loop_client = d.feed._loop.client
            token = loop_client._auth.token
            assert token is not None
            secrets = [APP_PASSWORD, token.get_secret_value()]
            shown = "\n".join([
                debug_logs.text, repr(got), repr(d.feed), repr(d.feed.status), repr(loop_client),
                repr(loop_client.session.auth), repr(d.mirror.client), repr(d.settings), repr(d.settings.version),
                repr(vars(loop_client)),
            ])
            for secret in secrets:
                assert secret not in shown
            with pytest.raises(TypeError):
                pickle.dumps(loop_client)

    def test_wrong_password_is_a_clear_error_without_the_password(
        self, etcd_auth: EtcdServer, prefix: str, debug_logs: pytest.LogCaptureFixture
    ) -> None:
        """A wrong password fails start-up naming the user and etcd's reason, never the password."""
        etcd_auth.put(prefix + "port", "1")
        with pytest.raises(SourceError) as info:
            auth_class(etcd_auth, prefix, WRONG_PASSWORD)()
        text = everything_said(info.value)
        assert "refused user 'app'" in text and "invalid user ID or password" in text
        assert WRONG_PASSWORD not in text and WRONG_PASSWORD not in debug_logs.text
        with pytest.raises(EtcdAuthError) as direct:
            EtcdClient(etcd_auth.url, username="app", password=WRONG_PASSWORD).range(prefix)
        assert WRONG_PASSWORD not in everything_said(direct.value)
        assert direct.value.__context__ is None  # the failed request (with the password in its body) is not kept

    def test_no_user_or_no_permission(self, etcd_auth: EtcdServer, prefix: str) -> None:
        """Without a user the error says to pass one; a user without permission on the prefix is refused."""
        with pytest.raises(EtcdAuthError, match="auth enabled: pass username and password"):
            EtcdClient(etcd_auth.url).range(prefix)
        etcd_auth.add_user("nobody", "nobody-pw")
        with pytest.raises(SourceError, match="permission denied"):
            app_class(etcd_auth.url, prefix, username="nobody", password="nobody-pw")()

    def test_refused_tokens_are_renewed(self, etcd_auth: EtcdServer, prefix: str) -> None:
        """Tokens dropped by etcd (a password reset drops a user's tokens; a restart forgets all of them):
        the ACK writer and the watch log in again and the fleet keeps converging."""
        etcd = etcd_auth
        etcd.put(prefix + "port", "1")
        with Driven(auth_class(etcd, prefix)()).start() as d:
            wait_until(lambda: record(etcd, prefix, d.feed.instance))
            etcd.change_password("app", APP_PASSWORD)  # same password: only the tokens go
            rev = etcd.put(prefix + "port", "2")
            wait_until(lambda: d.settings.port == 2)  # type: ignore[attr-defined]
            wait_until(lambda: (r := record(etcd, prefix, d.feed.instance)) and r["revision"] == rev)
            logins = d.feed._loop.client.authentications
            assert d.feed._writer is not None
            fast = d.feed._writer.fast_writes
            etcd.restart()  # every token is gone; the watch's next create is canceled "invalid auth token"
            rev = etcd.put(prefix + "port", "3")
            wait_until(lambda: d.settings.port == 3, timeout=20)  # type: ignore[attr-defined]
            wait_until(lambda: (r := record(etcd, prefix, d.feed.instance)) and r["revision"] == rev, timeout=20)
            assert d.feed._loop.client.authentications > logins
            assert d.delivered[-1] == rev
            # The ACK writer's own connection comes back too, with a new token. The first write after the
            # restart may still go through requests (seen once in a full run, not reproduced: likely its own
            # connection timed out while the restarted etcd was slow to answer); the next one is on its own.
            rev = etcd.put(prefix + "port", "4")
            wait_until(lambda: (r := record(etcd, prefix, d.feed.instance)) and r["revision"] == rev, timeout=20)
            assert d.feed._writer.fast_writes > fast

    def test_password_changed_under_a_running_process(
        self, etcd_auth: EtcdServer, prefix: str, debug_logs: pytest.LogCaptureFixture
    ) -> None:
        """The user's password is changed and etcd restarts: the process cannot log in, says so (without the
        password), keeps its last good config; when the old password is restored it catches up."""
        etcd = etcd_auth
        etcd.put(prefix + "port", "1")
        with Driven(auth_class(etcd, prefix)()).start() as d:
            wait_until(lambda: (s := d.feed.status) and s.state == "running")
            etcd.change_password("app", "rotated-Pa55-0000")
            etcd.stop(signal.SIGKILL)
            etcd.start()
            during = etcd.put(prefix + "port", "2")
            status = wait_until(lambda: (s := d.feed.status) and "refused user 'app'" in (s.error or "") and s, timeout=20)
            assert status.state == "degraded" and "invalid user ID or password" in (status.error or "")
            assert d.settings.port == 1  # type: ignore[attr-defined]
            etcd.change_password("app", APP_PASSWORD)
            wait_until(lambda: d.settings.port == 2, timeout=20)  # type: ignore[attr-defined]
            assert d.delivered == [during]
        assert APP_PASSWORD not in debug_logs.text and "rotated-Pa55-0000" not in debug_logs.text

    def test_fleet_command_as_a_user(self, etcd_auth: EtcdServer, prefix: str, monkeypatch: pytest.MonkeyPatch) -> None:
        """`livesettings fleet --user` reads the password from LIVESETTINGS_ETCD_PASSWORD; a wrong one exits 1
        with etcd's reason and without the password."""
        base = ["fleet", "--etcd", etcd_auth.url, "--prefix", prefix, "--user", "app"]
        monkeypatch.setenv("LIVESETTINGS_ETCD_PASSWORD", APP_PASSWORD)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            assert main([*base, "--json"]) == 0, err.getvalue()
        monkeypatch.setenv("LIVESETTINGS_ETCD_PASSWORD", WRONG_PASSWORD)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(base)
        assert code == 1 and "refused user 'app'" in err.getvalue()
        assert WRONG_PASSWORD not in err.getvalue() + out.getvalue()
