"""The unary half of talking to etcd: range, put, txn and leases through etcd3gw.

etcd3gw speaks the v3 JSON gateway (``/v3/``) over a ``requests`` session. It is used here for
what it does well (the requests, TLS, error mapping) and bypassed where it drops information:
``range`` posts to ``kv/range`` itself to keep the response header (the revision is the version
id), and a transaction's compare is passed as a raw dict (``replace()`` compares values, not
revisions). User/password authentication, which etcd3gw lacks, is one call to
``auth/authenticate`` whose token then rides on the session's ``Authorization`` header.

Several endpoints may be given, comma-separated: a connection failure moves to the next one.
Credentials are taken out of endpoint URLs, never shown in labels, reprs or errors.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

import etcd3gw
import requests
from etcd3gw import exceptions as gw_errors

__all__ = [
    "EtcdClient",
    "EtcdError",
    "EtcdUnavailable",
    "Endpoint",
    "Header",
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


class RevisionCompacted(EtcdError):
    """The requested revision was compacted away."""


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


def _is_bad_token(text: str) -> bool:
    return "invalid auth token" in text or "auth token is expired" in text


class EtcdClient:
    """A small synchronous etcd v3 client over the JSON gateway.

    Args:
        endpoints: comma-separated client URLs; ``http://`` is assumed when no scheme is given.
        ca_cert: CA bundle to verify the server's certificate (``https://`` endpoints).
        cert_cert: client certificate file, for mutual TLS (with ``cert_key``).
        cert_key: client key file.
        username: etcd user (etcd's ``auth enable``); with ``password``.
        password: that user's password (a ``str`` or anything with ``get_secret_value()``).
        timeout: seconds for each request.

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
        self._tls = {"ca_cert": ca_cert, "cert_key": cert_key, "cert_cert": cert_cert}
        self._username = username if username is not None else url_user
        secret = password if password is not None else url_password
        if secret is not None and hasattr(secret, "get_secret_value"):
            secret = secret.get_secret_value()
        self._password: str | None = secret
        self.timeout = timeout
        self._index = 0
        self._token: str | None = None
        self._gw = self._make(self.endpoints[0])
        self._lock = threading.Lock()  # only guards clone/close against each other

    def __repr__(self) -> str:
        return f"EtcdClient({self.label!r})"

    def clone(self, *, timeout: float | None = None) -> EtcdClient:
        """A client with the same options and its own session (for another thread)."""
        twin = EtcdClient.__new__(EtcdClient)
        twin.endpoints, twin.label, twin._tls = self.endpoints, self.label, self._tls
        twin._username, twin._password = self._username, self._password
        twin.timeout = self.timeout if timeout is None else timeout
        twin._index, twin._token, twin._lock = self._index, None, threading.Lock()
        twin._gw = twin._make(twin.endpoints[twin._index])
        return twin

    def _make(self, endpoint: Endpoint) -> etcd3gw.Etcd3Client:
        return etcd3gw.Etcd3Client(
            host=endpoint.host, port=endpoint.port, protocol=endpoint.protocol,
            timeout=self.timeout, api_path=API_PATH,
            ca_cert=self._tls["ca_cert"], cert_key=self._tls["cert_key"], cert_cert=self._tls["cert_cert"],
        )

    @property
    def endpoint(self) -> Endpoint:
        return self.endpoints[self._index]

    @property
    def session(self) -> requests.Session:
        """The current endpoint's session (TLS options and auth header set)."""
        return self._gw.session

    def url(self, path: str) -> str:
        return self._gw.get_url(path)

    def failover(self) -> None:
        """Use the next endpoint from now on (the token is per cluster, so it is kept)."""
        if len(self.endpoints) == 1:
            return
        self._index = (self._index + 1) % len(self.endpoints)
        old, self._gw = self._gw, self._make(self.endpoints[self._index])
        if self._token is not None:
            self._gw.session.headers["Authorization"] = self._token
        old.session.close()

    def close(self) -> None:
        self._gw.session.close()

    # -- requests ------------------------------------------------------------------------
    def authenticate(self) -> None:
        """Get a token for ``username``/``password`` (no-op without a user)."""
        if self._username is None:
            return
        self._gw.session.headers.pop("Authorization", None)
        try:
            result = self._gw.post(
                self.url("auth/authenticate"), json={"name": self._username, "password": self._password or ""}
            )
        except gw_errors.Etcd3Exception as exc:
            raise EtcdError(f"etcd at {self.endpoint.url} refused user {self._username!r}: {_detail(exc)}") from None
        self._token = str(result.get("token", ""))
        self._gw.session.headers["Authorization"] = self._token

    def call(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """POST ``body`` to ``/v3/<path>``: one try per endpoint, re-authenticating once."""
        errors: list[str] = []
        for _ in range(len(self.endpoints)):
            try:
                return self._call_one(path, body)
            except (gw_errors.ConnectionFailedError, gw_errors.ConnectionTimeoutError, requests.RequestException) as exc:
                errors.append(f"{self.endpoint.url}: {_detail(exc)}")
                self.failover()
        raise EtcdUnavailable("cannot reach etcd: " + "; ".join(errors))

    def _call_one(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        if self._username is not None and self._token is None:
            self.authenticate()
        for attempt in range(2):
            try:
                result: dict[str, Any] = self._gw.post(self.url(path), json=dict(body))
                return result
            except (gw_errors.ConnectionFailedError, gw_errors.ConnectionTimeoutError):
                raise
            except gw_errors.Etcd3Exception as exc:
                text = _detail(exc)
                if attempt == 0 and self._username is not None and _is_bad_token(text):
                    self.authenticate()
                    continue
                if _is_compacted(text):
                    raise RevisionCompacted(text) from None
                raise EtcdError(f"etcd at {self.endpoint.url}: {text}") from None
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


def _detail(exc: BaseException) -> str:
    """An error's text without the request body (which may carry a password)."""
    if isinstance(exc, gw_errors.Etcd3Exception):
        return str(getattr(exc, "detail_text", "") or exc.__class__.__name__).strip()
    return str(exc) or exc.__class__.__name__
