"""Loading candidates: the sources through pydantic-settings, the digests of every input, the feeds.

The loader is everything the engine does not know: which files a settings object reads (through
one trusted [FileReader][livesettings._sources.FileReader]), the environment, any other input a
source registered on the load (an etcd prefix ...), and which change feeds follow them. The engine
asks it three things: the digest of every input as it is now (``digest``), a validated candidate
(``load``), and, after a commit, to remember what the accepted load read (``committed``).
"""

from __future__ import annotations

import gc
import logging
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, NamedTuple

from pydantic import BaseModel, ValidationError
from pydantic_settings import BaseSettings, SettingsError

from . import _forksafe, _homes, _parsers
from ._config import ReloadConfig
from ._digest import hasher
from ._diff import diff_snapshots
from ._freeze import freeze
from ._model import Change, ChangeType, Plan, Version
from ._provenance import Origin, Provenance, ShadowedEdit, build_provenance, explain_served, shadowed_edits
from ._sections import SectionReuse, eligible
from ._sources import (
    FileReader, FileState, LoadContext, RetryUnpacked, Served, activate, keepable, opaque, refreshed, within_dir,
)
from ._paths import assign
from ._policy import Rules, plan
from ._unknown import UnknownKey, check_path, find_unknown_in_load, unknown_keys_error
from ._validate import render_validation_error
from .exceptions import ErrorDetail, ReloadError, SettingsSourceError, SourceError
from .typing import ChangeFeed

__all__ = ["Candidate", "HotReloadLoader", "Inputs", "digest_inputs", "environ_digest", "validate_values"]

log = logging.getLogger("livesettings")


class _GcPaused:
    """Pause the cyclic GC around parse + validate and the diff: on large configs it dominates the time.

    Reference-counted so overlapping pauses from several engines nest correctly.
    """

    _lock = threading.Lock()
    _depth = 0
    _was_enabled = False

    def __enter__(self) -> None:
        with _GcPaused._lock:
            if _GcPaused._depth == 0:
                _GcPaused._was_enabled = gc.isenabled()
                gc.disable()
            _GcPaused._depth += 1

    def __exit__(self, *exc: object) -> None:
        with _GcPaused._lock:
            _GcPaused._depth -= 1
            if _GcPaused._depth == 0 and _GcPaused._was_enabled:
                gc.enable()


class Inputs(NamedTuple):
    """What ``HotReloadLoader.digest`` saw (see there)."""

    digest: str
    files: dict[Path, Served]
    others: dict[str, str | None]
    environ: int


@dataclass
class Candidate:
    """One validated candidate and what it was built from.

    Attributes:
        snapshot: the validated, frozen snapshot.
        ctx: everything the load read (files, source records, other inputs).
        digest: one digest of every input the load read.
        unknown_keys: keys in file sources that no field accepts (``ReloadConfig.unknown_keys="warn"``).
    """

    snapshot: Any
    ctx: LoadContext
    digest: str
    unknown_keys: tuple[UnknownKey, ...] = field(default=())

    @cached_property
    def provenance(self) -> Provenance:
        """Which source supplied each leaf, and what it shadowed (computed on first use)."""
        return build_provenance(type(self.snapshot), self.ctx, self.snapshot)

    @property
    def inputs(self) -> dict[str, str | None]:
        """Non-file inputs (an etcd prefix ...) and the digest each had when it was read."""
        return {key: digest for key, (digest, _) in self.ctx.inputs.items()}


class HotReloadLoader:
    """Builds validated candidate snapshots from the sources (the brief's "Config Loader").

    One load runs at a time: the engine serialises reloads, and a dry run (``check()``) from
    another thread waits for the load in flight, because loads share what the last one left
    (kept sources, section instances, the env memo). A load started from inside a load (a
    source or validator calling ``check()``) raises ``RuntimeError``.
    """

    def __init__(
        self, snapshot_cls: type[BaseSettings], init_kwargs: Mapping[str, Any], config: ReloadConfig, name: str
    ) -> None:
        self.snapshot_cls = snapshot_cls
        self.init_kwargs = dict(init_kwargs)
        self.config = config
        self.name = name
        limits = _parsers.ParseLimits(
            max_bytes=config.max_file_bytes, max_depth=config.max_depth, max_aliases=config.max_aliases
        )
        self.reader = FileReader(
            limits=limits,
            allowed_roots=config.allowed_roots,
            allow_empty=config.allow_empty,
            dotenv_interpolate=config.dotenv_interpolate,
            strict=config.strict_sources,
        )
        self._unknown_cache: dict[Any, tuple[UnknownKey, ...]] = {}
        self._memo: dict[Any, Any] = {}  # results of the pure env-style sources (see _sources._remembered)
        self.sections = SectionReuse()  # unchanged sections keep their last instance (see _sections)
        # Sections a YAML source may keep packed (see _packed): the reusable ones, less any that a
        # load found another source setting too (RetryUnpacked); only the model decides the rest.
        self._packable = eligible(snapshot_cls) if self._packing_ok(snapshot_cls) else frozenset()
        # The sources the last load built, its init kwargs and the environment they saw (see load).
        self._kept: tuple[tuple[Any, ...], dict[str, Any], int] | None = None
        # Validating into a fresh instance skips only BaseSettings.__init__ (the sources), unless
        # the class has an __init__ of its own, which must run.
        self._direct = snapshot_cls.__init__ is BaseSettings.__init__
        self._busy = threading.Lock()
        self._busy_owner: int | None = None
        self.loaded: Candidate | None = None  # the last accepted load
        self._inputs: dict[str, Callable[[], str | None]] = {}  # the accepted load's non-file inputs
        # The accepted load had a source no digest covers (see ``opaque``): every reload must load.
        self.opaque = False
        self._files_seen: dict[Path, str | None] | None = None  # what the last look at the files found
        self._feeds: dict[str, Callable[[], ChangeFeed]] = {}
        self._file_feed: Any = None
        _forksafe.register(self)

    def _fork_reset(self) -> None:
        """A forked child: a fresh lock, and nothing kept that a load in flight in the parent may
        have been changing (the next load builds its sources again)."""
        self._busy = threading.Lock()
        self._busy_owner = None
        self._kept = None
        self._files_seen = None
        self.sections.discard()

    # -- digests ---------------------------------------------------------------------------
    def digest(self, *, files_followed: bool = False) -> Inputs:
        """Every known input as it is now: one digest of them all, the file bytes read to make it
        (handed to the ``load`` that may follow, so each file is read once), the environment's
        digest and each non-file input's digest.

        ``files_followed``: another input's feed fired and the file feed follows the files, so a
        file that changed will fire a reload of its own. Then, while the files the last look
        found are the ones being served, they are taken as they were instead of being read,
        checked and hashed again: an etcd update costs no file I/O. Any doubt reads them: a
        rejected file (the next update must still say why), secret files (their bytes are not
        kept), sources that will be built again (the environment changed).
        """
        environ = environ_digest()
        others = {key: current() for key, current in self._inputs.items()}
        fetched = self._served_files(environ) if files_followed else None
        if fetched is None:
            paths = dict.fromkeys(self.reader.last_good)
            paths.update(dict.fromkeys(self.secret_files()))
            fetched = {path: self.reader.fetch(path) for path in paths}
            self._files_seen = {p: d for p, (_, d) in fetched.items()}
        digest = digest_inputs({p: d for p, (_, d) in fetched.items()}, environ, others)
        return Inputs(digest, fetched, others, environ)

    def _served_files(self, environ: int) -> dict[Path, Served] | None:
        """The served files' states as a ``digest`` would fetch them, if nothing says they changed (see there).

        Their bytes are handed on as the states hold them (``FileState.held``: a big YAML file's are
        what gives them back, not unpacked): the load's reader takes the parse cached for the
        unchanged digest and never asks for them.
        """
        served = self.reader.last_good
        kept = self._kept
        if kept is None or kept[2] != environ or self._files_seen is None or len(self._files_seen) != len(served):
            return None
        fetched: dict[Path, Served] = {}
        seen = self._files_seen
        for path, state in served.items():
            if state.fmt == "secret" or seen.get(path, "") != state.digest:
                return None
            fetched[path] = (state.held(), state.digest) if state.digest is not None else (None, None)
        return fetched

    # -- loading ---------------------------------------------------------------------------
    def load(
        self, *, reloading: bool, prefetched: Mapping[Path, Served] | None = None, environ: int | None = None
    ) -> Candidate:
        """Read every source and validate; raises [ReloadError][livesettings.ReloadError].

        ``prefetched`` file bytes and the ``environ`` digest come from a ``digest()`` just made.
        """
        if self._busy_owner == threading.get_ident():
            raise RuntimeError(f"{self.name}: a load started from inside its own load (a source or validator)")
        with self._busy:
            self._busy_owner = threading.get_ident()
            try:
                while True:
                    try:
                        return self._load(reloading, prefetched, environ)
                    except RetryUnpacked as retry:  # once per section and settings object at most
                        self._packable -= retry.keys
            finally:
                self._busy_owner = None

    def _load(self, reloading: bool, prefetched: Mapping[Path, Served] | None, environ: int | None) -> Candidate:
        ctx = LoadContext(self.reader, reloading=reloading)
        try:
            return self._load_into(ctx, prefetched, environ)
        finally:
            ctx.release()

    def _load_into(self, ctx: LoadContext, prefetched: Mapping[Path, Served] | None, environ: int | None) -> Candidate:
        reloading = ctx.reloading
        environ = environ_digest() if environ is None else environ
        ctx.memo = self._memo
        ctx.sections = self.sections
        ctx.packable = self._packable
        self.sections.discard()  # only this load's sections may be committed below
        if prefetched:
            ctx.prefetched = dict(prefetched)
        kwargs = dict(self.init_kwargs)
        # pydantic's own dotenv source would read .env before ours could check it: hand it None
        # and let our DotEnvSource read the real setting from the context.
        ctx.env_file = kwargs.pop("_env_file", self.snapshot_cls.model_config.get("env_file"))
        kwargs["_env_file"] = None
        kept = self._kept if reloading and self._direct else None
        if kept is not None and kept[2] != environ:
            kept = None  # environment variables are decoded when the sources are built
        with activate(ctx), _GcPaused():
            try:
                if kept is None:
                    snapshot = self.snapshot_cls(**kwargs)
                else:
                    snapshot = self._validate_kept(refreshed(kept[0], ctx), kept[1])
            except ValidationError as exc:
                raise render_validation_error(exc, self.snapshot_cls, ctx, what=self.name) from None
            except ReloadError:
                raise
            except SettingsError as exc:
                cause = exc.__cause__
                if isinstance(cause, ReloadError):
                    raise cause from None
                raise SettingsSourceError(f"cannot load {self.name}", [ErrorDetail(None, str(exc))]) from None
            except RecursionError:
                raise ReloadError(f"cannot load {self.name}", [ErrorDetail(None, "config is nested too deeply")]) from None
        self.sections.commit(snapshot)
        freeze(snapshot)
        self._add_secret_files(ctx)
        unknown: tuple[UnknownKey, ...] = ()
        if self.config.unknown_keys != "ignore":
            unknown = find_unknown_in_load(self.snapshot_cls, ctx, self._unknown_cache)
            if unknown and self.config.unknown_keys == "error":
                raise unknown_keys_error(unknown, what=self.name)
        files = {p: st.digest for p, st in ctx.files.items()}
        others = {key: digest for key, (digest, _) in ctx.inputs.items()}
        built = ctx.built
        self._kept = (built[0], built[1], environ) if built is not None and keepable(built[0]) else None
        return Candidate(snapshot, ctx, digest_inputs(files, environ, others), unknown)

    @staticmethod
    def _packing_ok(cls: type[BaseSettings]) -> bool:
        # Partial-update defaults are merged as dicts below every source (pydantic-settings'
        # DefaultSettingsSource): a packed section would replace them instead.
        return not cls.model_config.get("nested_model_default_partial_update", False)

    def _validate_kept(self, sources: tuple[Any, ...], init_kwargs: Mapping[str, Any]) -> Any:
        """What ``snapshot_cls(**init_kwargs)`` gives, from sources built by an earlier load.

        ``BaseSettings.__init__`` builds the sources, merges what they return
        (``_settings_build_values``) and hands that to ``BaseModel.__init__``; this does the last
        two only. pydantic-core's own ``model_validate`` would call ``BaseSettings.__init__`` again.
        """
        cls = self.snapshot_cls
        values = cls._settings_build_values(sources, dict(init_kwargs))
        snapshot = cls.__new__(cls)
        BaseModel.__init__(snapshot, **values)
        return snapshot

    def revalidate(self, snapshot: BaseModel) -> Any:
        """Validate the values of ``snapshot`` again with every validator, reading no source.

        Used for a snapshot the loader did not build (held-back values combined with live ones,
        an override). Raises [ReloadError][livesettings.ReloadError].
        """
        return validate_values(self.snapshot_cls, snapshot.model_dump(round_trip=True), self.name)

    def plan(
        self, old: Any, snapshot: Any, rules: Rules, *, share: bool = False,
        shadowed: Sequence[ShadowedEdit] = (), strict: bool = True,
    ) -> Plan:
        """The [plan][livesettings.Plan] for serving ``snapshot`` instead of ``old`` under ``rules``.

        A plan that holds some changes back and applies others would serve a combination nobody
        validated: it is validated here (every validator, no source read), and if it fails every
        change waits for a restart. ``share``: ``snapshot`` is unpublished, so unchanged sub-trees
        of ``old`` may be swapped into it. ``shadowed``: edits that a higher-priority source hides.

        Raises:
            FrozenFieldError: a change rule refuses the candidate (``strict``; else the plan says so).
        """
        hidden = tuple((Change(e.path, ChangeType.MODIFY, e.old_value, e.new_value), str(e)) for e in shadowed)
        with _GcPaused():  # the diff allocates no cycles; a collection in it is pure cost
            changes = diff_snapshots(old, snapshot, share=share)
        proposal = plan(old, snapshot, changes, rules, shadowed=hidden)
        error = proposal.error(self.name)
        if error is not None:
            if strict:
                raise error
            return proposal
        if proposal.holds_back:
            try:
                self.revalidate(proposal.snapshot)
            except ReloadError as exc:
                why = "; ".join(str(d) for d in exc.details) or str(exc)
                proposal = proposal.hold_all(old, f"applying the live changes without the held ones fails validation: {why}")
        return proposal

    def with_values(self, snapshot: BaseModel, values: Mapping[str, Any]) -> Any:
        """``snapshot`` with ``{dotted path: value}`` written over it, validated (reading no source).

        Raises:
            ValueError: a path no field can reach (naming the closest field).
            ReloadError: the result does not validate.
        """
        data = snapshot.model_dump(round_trip=True)
        for path, value in values.items():
            check_path(type(snapshot), path, aliases=False)
            assign(data, path, value)
        return validate_values(self.snapshot_cls, data, self.name)

    def committed(self, candidate: Candidate) -> list[UnknownKey]:
        """Remember what the accepted ``candidate`` read: the missing-file rules, the inputs to
        digest next time, the feeds it asked for, and the file feed's targets.

        Returns the unknown keys the last accepted load did not have (to be reported once).
        """
        known = set(self.loaded.unknown_keys) if self.loaded is not None else set()
        self.loaded = candidate
        candidate.ctx.prefetched = {}  # the bytes this load was handed: its file states keep what they need
        self.reader.commit(candidate.ctx.files)
        self._inputs = {key: current for key, (_, current) in candidate.ctx.inputs.items()}
        self.opaque = opaque(candidate.ctx.built[0] if candidate.ctx.built is not None else None)
        for key, factory in candidate.ctx.feeds.items():
            self._feeds.setdefault(key, factory)
        if self._file_feed is not None:
            self._file_feed.retarget(self.targets(), self.secret_dirs())
        return [key for key in candidate.unknown_keys if key not in known]

    def shadowed(self, candidate: Candidate) -> tuple[ShadowedEdit, ...]:
        """Edits between the last accepted load and ``candidate`` that a higher-priority source hides."""
        return shadowed_edits(self.loaded.provenance, candidate.provenance) if self.loaded is not None else ()

    def explain(self, current: Version, path: str) -> Origin:
        """Where the value ``current`` serves at ``path`` came from (see ``ReloadableSettings.explain``)."""
        assert self.loaded is not None
        target = current.restores if current.source == "rollback" else current.id
        return explain_served(
            self.loaded.provenance, self.loaded.snapshot, current.snapshot, path, source=current.source, target=target or ""
        )

    # -- feeds -----------------------------------------------------------------------------
    def feeds(self) -> dict[str, Callable[[], ChangeFeed]]:
        """Factories of the feeds that follow this object's inputs: its files, then any other."""
        files = {"files": self._make_file_feed} if self.targets() or self.secret_dirs() else {}
        return {**files, **self._feeds}

    def _make_file_feed(self) -> ChangeFeed:
        from .watch.feed import FileFeed, warn_unwatchable  # noqa: PLC0415 - watchdog only when watching
        from .watch.options import WatchOptions  # noqa: PLC0415

        cfg = self.config
        options = WatchOptions(
            debounce_ms=cfg.debounce_ms,
            max_wait_ms=cfg.max_wait_ms,
            poll_interval_ms=cfg.poll_interval_ms,
            safety_interval_s=cfg.safety_interval_s,
            ignore=tuple(cfg.ignore),
            open_write_s=cfg.open_write_s,
            settle_ms=cfg.settle_ms,
        )
        targets = self.targets()
        warn_unwatchable(self.name, targets)
        feed = FileFeed(options, name=self.name, priority=cfg.priority, close_timeout_s=cfg.close_timeout_s)
        feed.retarget(targets, self.secret_dirs())
        self._file_feed = feed
        return feed

    def targets(self) -> list[Path]:
        """Every file whose change may change the config (secrets directories: ``secret_dirs``)."""
        return [p for p, st in self.reader.last_good.items() if st.fmt != "secret"]

    # -- secrets directories ---------------------------------------------------------------
    def secret_dirs(self) -> tuple[Path, ...]:
        raw = self.init_kwargs.get("_secrets_dir") or self.snapshot_cls.model_config.get("secrets_dir")
        if not raw:
            return ()
        items = [raw] if isinstance(raw, (str, os.PathLike)) else list(raw)
        return tuple(Path(os.path.abspath(Path(p).expanduser())) for p in items)

    def secret_files(self) -> list[Path]:
        """The files pydantic-settings reads from the secrets directories (hidden ones are skipped).

        Raises:
            SourceError: a secrets directory cannot be listed (permission denied, symlink loop ...).
        """
        found: list[Path] = []
        for directory in self.secret_dirs():
            try:
                if directory.is_dir():
                    found.extend(
                        e for e in sorted(directory.iterdir())
                        if not e.name.startswith(".") and e.is_file() and (self.reader.strict or within_dir(e, directory))
                    )
            except OSError as exc:
                raise SourceError.at(str(directory), f"cannot be listed: {exc.strerror or exc}") from None
        return found

    def _add_secret_files(self, ctx: LoadContext) -> None:
        """Every file in the secrets directories is an input (a new one may match a field next time);
        the ones the secrets source read are in ``ctx.files`` already."""
        present = set()
        for entry in self.secret_files():
            if entry not in ctx.files:
                ctx.files[entry] = FileState(entry, "secret", ctx.fetch(entry)[1])
            present.add(entry)
        for path, state in self.reader.last_good.items():
            if state.fmt == "secret" and path not in present:
                self.reader.check_missing(path, reloading=ctx.reloading)


def validate_values(snapshot_cls: type[BaseSettings], data: Mapping[str, Any], name: str) -> Any:
    """A frozen snapshot of ``snapshot_cls`` validated from ``data`` alone, reading no source.

    ``model_validate`` would not do: pydantic-core calls BaseSettings' own ``__init__`` from it,
    which reads every source again. Validating into a fresh instance (what ``BaseModel.__init__``
    does) runs every field and model validator and nothing else.
    """
    candidate = snapshot_cls.__new__(snapshot_cls)
    try:
        snapshot_cls.__pydantic_validator__.validate_python(dict(data), self_instance=candidate, by_name=True)
    except ValidationError as exc:
        raise render_validation_error(exc, snapshot_cls, None, what=name) from None
    freeze(candidate)
    return candidate


def environ_digest() -> int:
    """Identifies the process environment within this process (env vars are a source too).

    Hashes the encoded mapping behind ``os.environ`` (``_data``, the dict ``os.environ`` writes
    through on every CPython), a tenth of the cost of decoding every item through the public
    mapping; that runs on every reload. Falls back to the public items where it is missing.
    """
    global _environ_seen
    data = getattr(os.environ, "_data", None)
    if not isinstance(data, dict):
        return hash(frozenset(os.environ.items()))
    seen = _environ_seen
    if seen is not None and seen[0] == data:  # compares in place, allocating nothing: the usual case
        return seen[1]
    digest = hash(frozenset(data.items()))
    _environ_seen = (dict(data), digest)  # one reference, replaced whole (any thread may be here)
    return digest


_environ_seen: tuple[dict[Any, Any], int] | None = None  # the environment last digested, and its digest


def digest_inputs(files: Mapping[Path, str | None], environ: int, others: Mapping[str, str | None] | None = None) -> str:
    """One digest of every input: each file's content digest (or absence), the environment and
    any other input's digest."""
    h = hasher()
    for path in sorted(files):
        h.update(str(path).encode("utf-8", "surrogateescape") + b"\0" + (files[path] or "-").encode())
    h.update(str(environ).encode())
    for key in sorted(others or ()):
        h.update(b"\1" + key.encode() + b"\0" + ((others or {})[key] or "-").encode())
    return h.hexdigest()


_homes.settle("livesettings.components", ('HotReloadLoader',), globals())  # a component class: its public home
