"""The unary half of talking to etcd: range, put, txn and leases through etcd3gw.

etcd3gw speaks the v3 JSON gateway (``/v3/``) over a ``requests`` session. It is used here for
what it does well (the requests, TLS, error mapping) and bypassed where it drops information:
``range`` posts to ``kv/range`` itself to keep the response header (the revision is the version
id), and a transaction's compare is passed as a raw dict (``replace()`` compares values, not
revisions). User/password authentication, which etcd3gw lacks, is one call to
``auth/authenticate`` whose token then rides on each request's ``Authorization`` header (set by a
``requests`` auth hook, so a ``~/.netrc`` entry cannot replace it). A token etcd no longer
accepts (expired, or lost in a restart) is replaced once per request.

The session is ours: with ``ca_cert`` given, that CA bundle verifies the server even when
``REQUESTS_CA_BUNDLE`` or ``CURL_CA_BUNDLE`` is set (plain ``requests`` lets those replace a
session's ``verify``). TLS failures become [EtcdTLSError][livesettings._etcd.client.EtcdTLSError]
with the reason in words; a refused user becomes [EtcdAuthError][livesettings._etcd.client.EtcdAuthError].

Several endpoints may be given, comma-separated: a connection failure moves to the next one.
Credentials are taken out of endpoint URLs. The password and the token are held in a wrapper
whose repr is masked; neither is ever put in a label, repr, error or log record.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import ssl
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

import etcd3gw
import requests
import requests.auth
import requests.utils
from etcd3gw import exceptions as gw_errors

__all__ = [
    "EtcdAuthError",
    "EtcdClient",
    "EtcdError",
    "EtcdTLSError",
    "EtcdUnavailable",
    "Endpoint",
    "Header",
    "KeyWriter",
    "PrefixState",
    "RevisionCompacted",
    "b64",
    "prefix_end",
    "unb64",
]

API_PATH = "/v3/"


class EtcdError(Exception):
    """etcd answered with an error (or something that is not the v3 gateway)."""


class EtcdUnavailable(EtcdError):
    """No endpoint could be reached (connection refused, reset or timed out)."""


class EtcdTLSError(EtcdUnavailable):
    """The TLS handshake failed: the server's certificate is not trusted, or ours was refused."""


class EtcdAuthError(EtcdError):
    """etcd refused the user name and password (the message never contains the password)."""


class RevisionCompacted(EtcdError):
    """The requested revision was compacted away."""


class Secret:
    """A credential in memory (a password or a token): ``repr`` and ``str`` never show it.

    Duck-compatible with pydantic's ``SecretStr`` (``get_secret_value()``).
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get_secret_value(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("an etcd credential is not picklable")


def as_secret(value: Any) -> Secret | None:
    """``None``, a ``str``, a ``SecretStr`` or a ``Secret`` -> a ``Secret`` (or ``None``)."""
    if value is None or isinstance(value, Secret):
        return value
    if hasattr(value, "get_secret_value"):
        value = value.get_secret_value()
    if not isinstance(value, str):
        raise TypeError(f"an etcd password is a str or SecretStr, not {type(value).__name__}")
    return Secret(value)


class _TokenAuth(requests.auth.AuthBase):
    """Puts the current etcd token on each request (``Authorization``, as the gateway reads it)."""

    def __init__(self) -> None:
        self.token: Secret | None = None

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        token = self.token
        if token is not None:
            request.headers["Authorization"] = token.get_secret_value()
        return request

    def __repr__(self) -> str:
        return f"<etcd token auth: {'set' if self.token is not None else 'none'}>"


class _Session(requests.Session):
    """A ``requests`` session whose own CA bundle wins over ``REQUESTS_CA_BUNDLE``.

    ``requests`` replaces ``verify`` from the environment when a request does not pass one, even
    if the session set it (psf/requests#3829): with that variable set, as on many machines,
    ``ca_cert`` would be ignored and the server checked against the system bundle instead.
    Without ``ca_cert`` the session's ``verify`` is ``True`` and the variables apply as usual.
    """

    def merge_environment_settings(
        self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> dict[str, Any]:
        if verify is None:
            verify = self.verify
        result: dict[str, Any] = super().merge_environment_settings(url, proxies, stream, verify, cert)
        return result


def _check_file(option: str, path: str | None) -> str | None:
    if path is None:
        return None
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"etcd {option}: no such file: {path!r}")
    if not os.access(path, os.R_OK):
        raise ValueError(f"etcd {option}: cannot read {path!r}")
    return path


def check_tls(
    endpoints: Sequence[Endpoint], *, ca_cert: str | None, cert_cert: str | None, cert_key: str | None
) -> dict[str, str | None]:
    """The TLS options, checked: both halves of a client certificate, files that exist, https.

    Raises:
        ValueError: ``cert_cert`` without ``cert_key`` (or the reverse), a missing or unreadable
            file, or TLS options with no ``https://`` endpoint (nothing would be encrypted).
    """
    if (cert_cert is None) != (cert_key is None):
        raise ValueError("etcd mutual TLS needs both cert_cert (the client certificate) and cert_key (its key)")
    tls = {
        "ca_cert": _check_file("ca_cert", ca_cert),
        "cert_cert": _check_file("cert_cert", cert_cert),
        "cert_key": _check_file("cert_key", cert_key),
    }
    if any(tls.values()) and not any(e.protocol == "https" for e in endpoints):
        label = ",".join(e.url for e in endpoints)
        raise ValueError(
            f"etcd TLS options were given but no endpoint uses https:// ({label}): the connection would not be encrypted"
        )
    return tls


def describe(exc: BaseException, endpoint: Endpoint | None = None, *, client_cert: bool | None = None) -> str:
    """A connection error in words: the TLS reason when there is one, never a request body.

    ``client_cert``: whether a client certificate was offered (for the hint), ``None`` if unknown.
    """
    at = f"etcd at {endpoint.url}" if endpoint is not None else "etcd"
    tls = _ssl_error(exc)
    if isinstance(tls, ssl.SSLCertVerificationError):
        reason = tls.verify_message or tls.reason or "certificate verify failed"
        return (
            f"TLS with {at} failed: its certificate is not trusted ({reason}); "
            "check ca_cert (the CA bundle that signed the server's certificate)"
        )
    if tls is not None:
        reason = tls.reason.replace("_", " ").lower() if tls.reason else str(tls)
        if client_cert is False:
            hint = "etcd may require a client certificate (--client-cert-auth): pass cert_cert and cert_key"
        elif client_cert:
            hint = "etcd may have refused the client certificate: check cert_cert and cert_key and the CA that signed them"
        else:
            hint = "check the TLS options (ca_cert, cert_cert, cert_key)"
        return f"TLS with {at} failed: {reason}; {hint}"
    if isinstance(exc, gw_errors.Etcd3Exception):
        text = str(getattr(exc, "detail_text", "") or exc.__class__.__name__).strip()
    else:
        text = str(exc) or exc.__class__.__name__
    return text


def _ssl_error(exc: BaseException) -> ssl.SSLError | None:
    """The ``ssl.SSLError`` inside a requests/urllib3/etcd3gw exception chain, if any."""
    seen: set[int] = set()
    stack: list[Any] = [exc]
    while stack:
        item = stack.pop()
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, ssl.SSLError):
            return item
        stack.extend([item.__context__, item.__cause__, getattr(item, "reason", None)])
        stack.extend(a for a in item.args if isinstance(a, BaseException))
    return None


def b64(data: str | bytes) -> str:
    """The gateway's encoding of a key or value."""
    raw = data.encode("utf-8", "surrogateescape") if isinstance(data, str) else data
    return base64.b64encode(raw).decode("ascii")


def unb64(text: str | None) -> bytes:
    return base64.b64decode(text) if text else b""


def key_str(data: str | None) -> str:
    """A gateway key (base64) as text."""
    return unb64(data).decode("utf-8", "surrogateescape")


def prefix_end(prefix: str) -> str:
    """The ``range_end`` that selects every key starting with ``prefix``."""
    raw = bytearray(prefix.encode("utf-8", "surrogateescape"))
    while raw and raw[-1] == 0xFF:
        raw.pop()
    if not raw:
        return "\0"
    raw[-1] += 1
    return raw.decode("utf-8", "surrogateescape")


@dataclass(frozen=True)
class Header:
    """A response header: which store answered, and at which revision and raft term."""

    revision: int
    raft_term: int = 0
    cluster_id: str = ""
    member_id: str = ""

    @classmethod
    def of(cls, data: Mapping[str, Any] | None) -> Header:
        data = data or {}  # the gateway omits zero values, so every field may be absent
        return cls(
            int(data.get("revision", 0)),
            int(data.get("raft_term", 0)),
            str(data.get("cluster_id", "")),
            str(data.get("member_id", "")),
        )


@dataclass(frozen=True)
class PrefixState:
    """Every key under a prefix at one revision (one candidate version)."""

    revision: int
    kvs: Mapping[str, bytes] = field(repr=False)  # full key -> value
    header: Header = field(default_factory=lambda: Header(0))


@dataclass(frozen=True)
class Endpoint:
    """One etcd client URL (``http://127.0.0.1:2379``)."""

    protocol: str
    host: str
    port: int

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.protocol}://{host}:{self.port}"


def parse_endpoints(text: str) -> tuple[tuple[Endpoint, ...], str | None, str | None]:
    """``"http://a:2379,https://b:2379"`` -> endpoints, plus user and password found in a URL."""
    endpoints: list[Endpoint] = []
    user = password = None
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        parts = urlsplit(item if "://" in item else f"http://{item}")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an etcd endpoint URL: {_mask(item)!r} (expected http(s)://host:port)")
        if parts.username:
            user, password = unquote(parts.username), unquote(parts.password or "")
        endpoints.append(Endpoint(parts.scheme, parts.hostname, parts.port or 2379))
    if not endpoints:
        raise ValueError("no etcd endpoint given")
    return tuple(endpoints), user, password


def _mask(text: str) -> str:
    """An endpoint string with any userinfo removed."""
    return ",".join(p.rpartition("@")[2] if "@" in p else p for p in text.split(","))


def _is_compacted(text: str) -> bool:
    return "compacted" in text


def is_bad_token(text: str) -> bool:
    """etcd no longer accepts our token (expired, lost in a restart) or wants one it did not get."""
    return "invalid auth token" in text or "auth token is expired" in text or "user name is empty" in text


def _auth_not_enabled(text: str) -> bool:
    return "authentication is not enabled" in text


class EtcdClient:
    """A small synchronous etcd v3 client over the JSON gateway.

    Args:
        endpoints: comma-separated client URLs; ``http://`` is assumed when no scheme is given.
        ca_cert: CA bundle to verify the server's certificate (``https://`` endpoints); without
            it the system bundle (or ``REQUESTS_CA_BUNDLE``) is used.
        cert_cert: client certificate file, for mutual TLS (with ``cert_key``).
        cert_key: client key file (unencrypted PEM).
        username: etcd user (etcd's ``auth enable``); with ``password``.
        password: that user's password (a ``str`` or anything with ``get_secret_value()``).
        timeout: seconds for each request.

    Raises:
        ValueError: a malformed endpoint; ``cert_cert`` without ``cert_key`` (or the reverse);
            a certificate file that does not exist; TLS files with no ``https://`` endpoint.

    Not thread-safe (one ``requests`` session): give each thread its own client (``clone``).
    """

    def __init__(
        self,
        endpoints: str,
        *,
        ca_cert: str | None = None,
        cert_key: str | None = None,
        cert_cert: str | None = None,
        username: str | None = None,
        password: Any = None,
        timeout: float = 5.0,
    ) -> None:
        self.endpoints, url_user, url_password = parse_endpoints(endpoints)
        self.label = ",".join(e.url for e in self.endpoints)
        tls = check_tls(self.endpoints, ca_cert=ca_cert, cert_cert=cert_cert, cert_key=cert_key)
        self._tls = tls
        self._username = username if username is not None else url_user
        self._password = as_secret(password if password is not None else url_password)
        self.timeout = timeout
        self._index = 0
        self._auth = _TokenAuth()
        self._auth_off = False  # etcd said its auth is not enabled: send no token
        self.authentications = 0  # tokens obtained (for tests and stats)
        self._gw = self._make(self.endpoints[0])
        self._lock = threading.Lock()  # only guards clone/close against each other

    def __repr__(self) -> str:
        user = f", username={self._username!r}" if self._username is not None else ""
        return f"EtcdClient({self.label!r}{user})"

    def __reduce__(self) -> Any:
        raise TypeError("an EtcdClient is not picklable (it holds credentials and a session)")

    def clone(self, *, timeout: float | None = None) -> EtcdClient:
        """A client with the same options and its own session and token (for another thread)."""
        twin = EtcdClient.__new__(EtcdClient)
        twin.endpoints, twin.label, twin._tls = self.endpoints, self.label, self._tls
        twin._username, twin._password = self._username, self._password
        twin.timeout = self.timeout if timeout is None else timeout
        twin._index, twin._auth, twin._auth_off = self._index, _TokenAuth(), self._auth_off
        twin.authentications, twin._lock = 0, threading.Lock()
        twin._gw = twin._make(twin.endpoints[twin._index])
        return twin

    def _make(self, endpoint: Endpoint) -> etcd3gw.Etcd3Client:
        session = _Session()
        if self._tls["ca_cert"] is not None:
            session.verify = self._tls["ca_cert"]
        if self._tls["cert_cert"] is not None and self._tls["cert_key"] is not None:
            session.cert = (self._tls["cert_cert"], self._tls["cert_key"])
        session.auth = self._auth  # the token (shared by this client's sessions: it is per cluster)
        return etcd3gw.Etcd3Client(
            host=endpoint.host, port=endpoint.port, protocol=endpoint.protocol,
            timeout=self.timeout, api_path=API_PATH, session=session,
        )

    @property
    def endpoint(self) -> Endpoint:
        return self.endpoints[self._index]

    @property
    def session(self) -> requests.Session:
        """The current endpoint's session (TLS options and the token hook set)."""
        return self._gw.session

    @property
    def username(self) -> str | None:
        return self._username

    @property
    def needs_token(self) -> bool:
        """A user is configured, etcd's auth is on (as far as we know) and we hold no token."""
        return self._username is not None and not self._auth_off and self._auth.token is None

    def url(self, path: str) -> str:
        return self._gw.get_url(path)

    def failover(self) -> None:
        """Use the next endpoint from now on (the token is per cluster, so it is kept)."""
        if len(self.endpoints) == 1:
            return
        self._index = (self._index + 1) % len(self.endpoints)
        old, self._gw = self._gw, self._make(self.endpoints[self._index])
        old.session.close()

    def close(self) -> None:
        self._gw.session.close()

    def describe(self, exc: BaseException) -> str:
        """A connection error of this client's, in words (see ``describe``)."""
        return describe(exc, self.endpoint, client_cert=self._tls["cert_cert"] is not None)

    def forget_token(self) -> None:
        """Drop the token (etcd refused it): the next request authenticates again."""
        self._auth.token = None
        self._auth_off = False

    # -- requests ------------------------------------------------------------------------
    def authenticate(self) -> None:
        """Get a token for ``username``/``password`` (no-op without a user).

        Raises:
            EtcdAuthError: etcd refused the user or password (the password is never in the text).
            EtcdUnavailable: etcd could not be reached (``EtcdTLSError`` for a TLS failure).
        """
        if self._username is None:
            return
        self._auth.token = None
        # The error is raised outside the ``except`` blocks: the exception etcd3gw raised holds the
        # request (and its body, with the password) and must not ride along as ``__context__``.
        failure: EtcdError | None = None
        result: dict[str, Any] = {}
        password = self._password.get_secret_value() if self._password is not None else ""
        try:
            result = self._gw.post(self.url("auth/authenticate"), json={"name": self._username, "password": password})
        except (gw_errors.ConnectionFailedError, gw_errors.ConnectionTimeoutError) as exc:
            failure = self._unreachable(exc)
        except gw_errors.Etcd3Exception as exc:
            text = _redact_password(describe(exc), password)
            if _auth_not_enabled(text):
                self._auth_off = True  # a user configured ahead of etcd's `auth enable`: fine
                return
            failure = EtcdAuthError(f"etcd at {self.endpoint.url} refused user {self._username!r}: {_message(text)}")
        finally:
            del password
        if failure is not None:
            raise failure
        token = str(result.get("token", ""))
        if not token:
            raise EtcdAuthError(f"etcd at {self.endpoint.url} returned no token for user {self._username!r}")
        self._auth.token = Secret(token)
        self._auth_off = False
        self.authentications += 1

    def call(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """POST ``body`` to ``/v3/<path>``: one try per endpoint, re-authenticating once.

        Raises:
            EtcdUnavailable: no endpoint answered (``EtcdTLSError`` if TLS failed on the last one).
            EtcdAuthError: etcd refused the user or password.
            RevisionCompacted: the requested revision is gone.
            EtcdError: any other error etcd returned.
        """
        failures: list[EtcdUnavailable] = []
        for _ in range(len(self.endpoints)):
            try:
                return self._call_one(path, body)
            except (gw_errors.ConnectionFailedError, gw_errors.ConnectionTimeoutError, requests.RequestException) as exc:
                failures.append(self._unreachable(exc))
            except EtcdUnavailable as exc:  # while authenticating
                failures.append(exc)
            self.failover()
        if len(failures) == 1:
            raise failures[0]
        cls = EtcdTLSError if all(isinstance(f, EtcdTLSError) for f in failures) else EtcdUnavailable
        raise cls("cannot reach etcd: " + "; ".join(str(f) for f in failures))

    def _unreachable(self, exc: BaseException) -> EtcdUnavailable:
        if _ssl_error(exc) is not None:
            return EtcdTLSError(self.describe(exc))
        return EtcdUnavailable(f"cannot reach etcd at {self.endpoint.url}: {describe(exc)}")

    def _call_one(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        if self.needs_token:
            self.authenticate()
        for attempt in range(2):
            # Errors are raised outside the ``except`` blocks, so that etcd3gw's exception (which
            # holds the request body: config values, maybe secrets) is not their ``__context__``.
            text = ""
            try:
                result: dict[str, Any] = self._gw.post(self.url(path), json=dict(body))
                return result
            except (gw_errors.ConnectionFailedError, gw_errors.ConnectionTimeoutError):
                raise  # call() turns it into EtcdUnavailable and moves to the next endpoint
            except gw_errors.Etcd3Exception as exc:
                text = describe(exc)
            if attempt == 0 and self._username is not None and is_bad_token(text):
                self.forget_token()
                self.authenticate()
                continue
            raise refusal(text, self.endpoint.url)
        raise AssertionError("unreachable")

    def range(self, prefix: str, *, revision: int | None = None) -> PrefixState:
        """Every key under ``prefix`` (at ``revision``, or now)."""
        body: dict[str, Any] = {"key": b64(prefix), "range_end": b64(prefix_end(prefix))}
        if revision is not None:
            body["revision"] = str(revision)
        result = self.call("kv/range", body)
        header = Header.of(result.get("header"))
        kvs = {key_str(kv.get("key")): unb64(kv.get("value")) for kv in result.get("kvs", ())}
        return PrefixState(revision if revision is not None else header.revision, kvs, header)

    def status(self) -> Header:
        """The header of a cheap request (store identity, revision and term)."""
        return Header.of(self.call("maintenance/status", {}).get("header"))

    def txn(
        self,
        compare: Sequence[Mapping[str, Any]],
        success: Sequence[Mapping[str, Any]],
        failure: Sequence[Mapping[str, Any]] = (),
    ) -> tuple[bool, Header, list[Any]]:
        """One transaction; ``(succeeded, header, responses)``. A failed txn omits ``succeeded``."""
        result = self.call("kv/txn", {"compare": list(compare), "success": list(success), "failure": list(failure)})
        return bool(result.get("succeeded", False)), Header.of(result.get("header")), list(result.get("responses", ()))

    def put(self, key: str, value: bytes | str, *, lease: int | None = None) -> Header:
        body: dict[str, Any] = {"key": b64(key), "value": b64(value)}
        if lease:
            body["lease"] = str(lease)
        return Header.of(self.call("kv/put", body).get("header"))

    def lease_grant(self, ttl: int) -> int:
        return int(self.call("lease/grant", {"TTL": str(ttl), "ID": "0"})["ID"])

    def lease_keepalive(self, lease: int) -> int:
        """The lease's new TTL, or -1 if it expired (the gateway omits a zero/absent TTL)."""
        result = self.call("lease/keepalive", {"ID": str(lease)})
        return int(result.get("result", {}).get("TTL", -1))

    def lease_revoke(self, lease: int) -> None:
        self.call("kv/lease/revoke", {"ID": str(lease)})


def _message(text: str) -> str:
    """etcd's JSON error body (``{"error": ..., "message": ..., "code": ...}``) as its message."""
    try:
        data = json.loads(text)
    except ValueError:
        return text
    if isinstance(data, dict) and isinstance(data.get("message") or data.get("error"), str):
        return str(data.get("message") or data.get("error"))
    return text


def refusal(text: str, url: str) -> EtcdError:
    """The error for etcd's refusal ``text`` (an error body) from the endpoint at ``url``."""
    if _is_compacted(text):
        return RevisionCompacted(_message(text))
    if "user name is empty" in text:
        return EtcdAuthError(f"etcd at {url} has auth enabled: pass username and password")
    return EtcdError(f"etcd at {url}: {_message(text)}")


def _redact_password(text: str, password: str) -> str:
    """Belt and braces: an error text never carries the password, even if a server echoed it."""
    return text.replace(password, "**********") if password else text


class KeyWriter:
    """Writes one key again and again (a process's ACK record) over a persistent ``http.client`` connection.

    The ACK writer puts a record for every revision; through ``requests`` and etcd3gw one put costs
    about 2 ms of CPU (a session, hooks, environment look-ups and a pool per request). This sends a
    pre-built request on one kept-alive connection instead. It uses what ``client`` uses: the same
    endpoint, TLS files (and, without ``ca_cert``, ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE`` or the
    bundle ``requests`` would use) and token, which is renewed once when etcd refuses it.

    Anything this path does not handle goes through ``client.put`` for that write (and the errors
    are that path's): a connection failure, a TLS failure, a proxy configured in the environment
    (then every write does). If ``client.put`` succeeds where this failed three times in a row,
    the writer stops trying its own connection.

    The token is read for each request and never stored here; nothing here is logged.
    """

    def __init__(self, client: EtcdClient, key: str) -> None:
        self.client = client
        self.fast_writes = 0  # writes that went through the kept connection (for tests and stats)
        self.key = key
        self._key = b64(key)
        self._conn: Any = None
        self._endpoint: Endpoint | None = None
        self._usable = True
        self._misses = 0  # writes in a row that requests managed and this connection did not

    def __repr__(self) -> str:
        return f"<KeyWriter {self.client.label} fast_writes={self.fast_writes}>"

    def put(self, value: str | bytes, *, lease: int | None = None) -> None:
        """Write ``value`` (with ``lease``); raises like ``EtcdClient.put``."""
        client = self.client
        if self._usable:
            if client.needs_token:
                client.authenticate()
            lease_part = f',"lease":"{int(lease)}"' if lease else ""
            body = f'{{"key":"{self._key}","value":"{b64(value)}"{lease_part}}}'.encode("ascii")
            for attempt in range(2):
                status, text = self._post(body)
                if status == 200:
                    self.fast_writes += 1
                    self._misses = 0
                    return
                if status is None:
                    break  # not over this connection: the requests path below, with its errors
                if attempt == 0 and client.username is not None and is_bad_token(text):
                    client.forget_token()
                    client.authenticate()
                    continue
                raise refusal(text, client.endpoint.url)
        client.put(self.key, value, lease=lease)
        if self._usable:
            self._misses += 1
            if self._misses >= 3:
                self._usable = False  # requests reaches etcd where our own connection does not: use it from now on

    def _post(self, body: bytes) -> tuple[int | None, str]:
        """``(HTTP status, body text)``, or ``(None, "")`` when this connection could not do it."""
        client = self.client
        if self._endpoint is not client.endpoint:  # the client failed over: follow it
            self.close()
        headers = {"Content-Type": "application/json", "Content-Length": str(len(body))}
        token = client._auth.token if not client._auth_off else None
        if token is not None:
            headers["Authorization"] = token.get_secret_value()
        for attempt in range(2):  # a kept-alive connection the server closed: once more on a new one
            reused = self._conn is not None
            try:
                conn = self._conn if reused else self._connect()
                if conn is None:
                    return None, ""
                conn.request("POST", API_PATH + "kv/put", body, headers)
                resp = conn.getresponse()
                data = resp.read()
            except (OSError, http.client.HTTPException):
                self.close()
                if reused and attempt == 0:
                    continue
                return None, ""
            if resp.will_close:
                self.close()
            return resp.status, data.decode("utf-8", "replace")
        return None, ""

    def _connect(self) -> Any:
        client = self.client
        endpoint = self._endpoint = client.endpoint
        if requests.utils.get_environ_proxies(endpoint.url):
            self._usable = False  # requests would go through the proxy: so do we, through requests
            return None
        timeout = client.timeout
        if endpoint.protocol == "https":
            tls = client._tls
            ca = tls["ca_cert"] or os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
            ca = ca or requests.utils.DEFAULT_CA_BUNDLE_PATH
            if os.path.isdir(ca):
                context = ssl.create_default_context(capath=ca)
            else:
                context = ssl.create_default_context(cafile=ca)
            if tls["cert_cert"] is not None and tls["cert_key"] is not None:
                context.load_cert_chain(tls["cert_cert"], tls["cert_key"])
            conn: Any = http.client.HTTPSConnection(endpoint.host, endpoint.port, timeout=timeout, context=context)
        else:
            conn = http.client.HTTPConnection(endpoint.host, endpoint.port, timeout=timeout)
        self._conn = conn
        return conn

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
