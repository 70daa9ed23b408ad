"""``EtcdSource``: a pydantic-settings source that reads a prefix of etcd keys.

Key layout under the prefix ``P`` (ending in ``/``):

* the key ``P`` itself may hold a whole YAML (or JSON) document;
* a key ``P + "a/b"`` holds the value at dotted path ``a.b``, parsed as YAML (``5`` is an int,
  ``[1, 2]`` a list, ``on`` a bool);
* deeper keys win over shallower ones and over the document.

Inside an engine load the source registers its input (key ``etcd:<endpoints><prefix>``, digest
= the revision it read) and its change feed. While that feed runs, loads read the prefix as the
feed last delivered it (no round trip, and exactly the revision the feed announced); otherwise
each load ranges over the prefix.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Mapping
from typing import Any

from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from .. import _parsers
from .._sources import FileReader, SourceRecord, current_context
from ..exceptions import SourceError, SourceMissingError
from .client import EtcdClient, EtcdError, PrefixState, as_secret, check_tls, parse_endpoints
from .feed import EtcdFeed, Mirror
from .watch import Backoff

__all__ = ["ENDPOINT_ENV", "EtcdSource", "decode_prefix", "mirrors"]

ENDPOINT_ENV = "LIVESETTINGS_ETCD_ENDPOINT"

# One settings object's mirrors, found through its FileReader (one per settings object, alive as
# long as the object): input key -> Mirror.
_MIRRORS: weakref.WeakKeyDictionary[FileReader, dict[str, Mirror]] = weakref.WeakKeyDictionary()


def mirrors(reader: FileReader) -> dict[str, Mirror]:
    """The etcd mirrors of the settings object that owns ``reader`` (for tests and tools)."""
    return _MIRRORS.setdefault(reader, {})


def normalise_prefix(prefix: str) -> str:
    if not prefix or not prefix.strip("/"):
        raise ValueError(f"an etcd prefix names the config's keys, like 'apps/web/'; got {prefix!r}")
    return prefix if prefix.endswith("/") else prefix + "/"


def _label(key: str, revision: int) -> str:
    return f"etcd key {key} (revision {revision})"


def decode_prefix(
    state: PrefixState, prefix: str, limits: _parsers.ParseLimits | None = None
) -> tuple[dict[str, Any], list[SourceRecord]]:
    """The config a prefix holds, and one record per key (deepest first) for error attribution.

    Raises:
        SourceError: a value is not valid YAML, the document is not a mapping, or a key has an
            empty path segment (``a//b``).
    """
    limits = limits or _parsers.ParseLimits()
    records: list[SourceRecord] = []
    data: dict[str, Any] = {}
    raw_doc = state.kvs.get(prefix)
    if raw_doc is not None:
        doc = _parsers.parse_yaml(raw_doc, _label(prefix, state.revision), limits) or {}
        data = dict(doc)
        records.append(SourceRecord(_label(prefix, state.revision), doc))
    leaves: list[tuple[int, str, list[str], bytes]] = []
    for key, value in state.kvs.items():
        if key == prefix or not key.startswith(prefix):
            continue
        rel = key[len(prefix):]
        parts = rel.split("/")
        if "" in parts:
            raise SourceError.at(_label(key, state.revision), "empty path segment in the key (expected a/b/c)")
        leaves.append((len(parts), rel, parts, value))
    leaves.sort()
    for _depth, rel, parts, value in leaves:
        label = _label(prefix + rel, state.revision)
        parsed = _parsers.parse_yaml_value(value, label, limits)
        node = data
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {} if not isinstance(child, Mapping) else dict(child)
                node[part] = child
            else:
                child = dict(child)  # never mutate the parsed document in place
                node[part] = child
            node = child
        node[parts[-1]] = parsed
        nested: dict[str, Any] = {parts[-1]: parsed}
        for part in reversed(parts[:-1]):
            nested = {part: nested}
        records.append(SourceRecord(label, nested))
    records.reverse()  # deepest (winning) keys first: attribution takes the first record that has the path
    return data, records


class EtcdSource(PydanticBaseSettingsSource):
    """Settings from a prefix of etcd keys, followed live by a watch of our own.

    Put it in ``settings_customise_sources`` in the precedence you want::

        class AppSettings(ReloadableSettings):
            @classmethod
            def settings_customise_sources(cls, settings_cls, init_settings, env_settings,
                                           dotenv_settings, file_secret_settings):
                return (env_settings, EtcdSource(settings_cls, "apps/web/"), init_settings)

    Args:
        settings_cls: the settings class (pydantic-settings passes it to the hook).
        prefix: the keys' prefix, like ``"apps/web/"`` (a missing trailing ``/`` is added).
        endpoint: etcd client URL(s), comma-separated (``http://10.0.0.5:2379``); default from
            ``LIVESETTINGS_ETCD_ENDPOINT``.
        ca_cert: CA bundle that verifies the server's certificate (``https://`` endpoints); it
            wins over ``REQUESTS_CA_BUNDLE``. Without it the system bundle is used.
        cert_cert: client certificate file for mutual TLS (etcd's ``--client-cert-auth``), with
            ``cert_key``.
        cert_key: the client certificate's key file (unencrypted PEM).
        username: etcd user when etcd's auth is enabled (with ``password``). The source gets a
            token from ``/v3/auth/authenticate`` and gets a new one whenever etcd refuses it
            (expired, or forgotten by a restarted etcd).
        password: that user's password (``str`` or ``SecretStr``); never logged, shown in an
            error, an ACK record or a repr.
        timeout: seconds per request.
        progress_interval: the server's ``--experimental-watch-progress-notify-interval`` in
            seconds; the watch declares a connection stalled after 3× that long without a message.
        rewatch_s: without ``progress_interval``, re-create an idle watch this often.
        instance: this process's id in the ACK records (default ``<host>-<pid>-<random>``).
        ack: write ACK/NACK records under ``P.acks/<instance>``.
        ack_ttl: lease TTL of the ACK record in seconds.

    Raises:
        ValueError: no endpoint, or a malformed endpoint or prefix; ``cert_cert`` without
            ``cert_key``; a TLS file that does not exist; TLS options with no ``https://`` endpoint.

    Added in 0.2.
    """

    # It reads the prefix when called, never when built: a reload may keep the instance (_sources.keepable).
    __livesettings_kept__ = True

    def __init__(
        self,
        settings_cls: type[BaseSettings],
        prefix: str,
        endpoint: str | None = None,
        *,
        ca_cert: str | None = None,
        cert_key: str | None = None,
        cert_cert: str | None = None,
        username: str | None = None,
        password: Any = None,
        timeout: float = 5.0,
        progress_interval: float | None = None,
        rewatch_s: float = 60.0,
        instance: str | None = None,
        ack: bool = True,
        ack_ttl: int = 15,
    ) -> None:
        super().__init__(settings_cls)
        self.prefix = normalise_prefix(prefix)
        endpoint = endpoint or os.environ.get(ENDPOINT_ENV)
        if not endpoint:
            raise ValueError(f"EtcdSource needs an endpoint: pass endpoint='http://host:2379' or set {ENDPOINT_ENV}")
        self._endpoint = endpoint
        endpoints = parse_endpoints(endpoint)[0]
        check_tls(endpoints, ca_cert=ca_cert, cert_cert=cert_cert, cert_key=cert_key)
        self._client_options: dict[str, Any] = {
            "ca_cert": ca_cert, "cert_key": cert_key, "cert_cert": cert_cert,
            "username": username, "password": as_secret(password), "timeout": timeout,
        }
        self._feed_options: dict[str, Any] = {
            "progress_interval": progress_interval, "rewatch_s": rewatch_s,
            "instance": instance, "ack": ack, "ack_ttl": ack_ttl,
        }
        self._client: EtcdClient | None = None
        self.label = ",".join(e.url for e in endpoints)  # no credentials in it
        self.key = f"etcd:{self.label}{self.prefix}"

    def __repr__(self) -> str:
        # getattr: a debugger or traceback may show an instance whose __init__ raised part way
        return f"EtcdSource({getattr(self, 'label', '?')!r}, {getattr(self, 'prefix', '?')!r})"

    @property
    def client(self) -> EtcdClient:
        if self._client is None:
            self._client = EtcdClient(self._endpoint, **self._client_options)
        return self._client

    def new_feed(self, mirror: Mirror | None = None, *, backoff: Backoff | None = None) -> EtcdFeed:
        """A change feed for this source's prefix (the engine asks for one through the load context)."""
        return EtcdFeed(self.client, self.prefix, mirror=mirror, backoff=backoff, **self._feed_options)

    def read(self) -> PrefixState:
        """Range over the prefix now.

        Raises:
            SourceError: etcd could not be read.
        """
        try:
            return self.client.range(self.prefix)
        except EtcdError as exc:
            raise SourceError.at(f"etcd {self.label} {self.prefix}", f"cannot read etcd: {exc}") from None

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        """Not used: ``__call__`` returns the whole prefix at once."""
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        ctx = current_context()
        if ctx is None:  # a plain BaseSettings: read the prefix, nothing to follow
            data, _records = decode_prefix(self.read(), self.prefix)
            return data
        table = mirrors(ctx.reader)
        mirror = table.get(self.key)
        if mirror is None:
            mirror = table[self.key] = Mirror(self.key, self.new_feed)
        state = mirror.latest if mirror.live else None
        if state is None:
            # Loads of one settings object are serialised: they share one client (one session).
            if mirror.client is None:
                mirror.client = self.client
            self._client = mirror.client
            state = self.read()
            mirror.offer(state)
        if ctx.reloading and not state.kvs and mirror.seen_keys:
            raise SourceMissingError.at(
                f"etcd {self.label} {self.prefix}",
                f"has no keys at revision {state.revision} but had some before (a wiped store?); "
                "keeping the last good config",
            )
        ctx.add_input(self.key, str(state.revision), mirror.current)
        ctx.add_feed(self.key, mirror.new_feed)
        data, records = decode_prefix(state, self.prefix, ctx.reader.limits)
        ctx.records.extend(records)
        return data
