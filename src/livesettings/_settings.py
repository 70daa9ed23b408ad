"""``ReloadableSettings``: the typed front door, its metaclass, and ``@on_change``.

A class body is split in two:

* a frozen **snapshot model** built on pydantic-settings (fields, defaults, validators,
  ``model_config``, ``settings_customise_sources``), so every pydantic-settings source and option
  keeps working; each accepted version is one immutable instance of it;
* the user's class, a plain **façade** whose instance ``__dict__`` *is* the current snapshot's
  top-level values. A commit replaces that dict with one reference assignment, so a read such
  as ``settings.database`` is CPython's ordinary instance-attribute lookup: no lock, no
  descriptor, no ``__getattr__``. Nothing named like a field lives on the class: even a
  non-data descriptor or a ``FieldInfo`` there stops CPython from specialising the instance
  read. Class access (``AppSettings.port``) is answered by the metaclass instead.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import sys
import threading
import types
import typing
import weakref
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, overload

from pydantic import BaseModel, PydanticUndefinedAnnotation
from pydantic._internal._decorators import PydanticDescriptorProxy
from pydantic._internal._model_construction import ModelMetaclass, build_lenient_weakvaluedict
from pydantic._internal._typing_extra import parent_frame_namespace
from pydantic_settings import BaseSettings, CliSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict
from typing_extensions import Self

from ._redact import masked_repr_args, safe_repr
from ._clicompat import install as install_cli_adaptation
from ._config import ReloadConfig
from .exceptions import ReloadError

# The engine side (engine, loader, sources, validation, notifier, provenance, ...) is imported by the
# first settings object, not by `import livesettings` (see docs/performance.md, "Import time"): the
# methods below that need it import it themselves. None of them is on the read path.
if TYPE_CHECKING:
    from ._engine import Engine
    from ._manager import HotReloadManager
    from ._model import Change, Diff, Version
    from ._notify import SubscriptionHandle
    from ._provenance import Origin
    from ._stats import ReloadStats
    from ._validate import ValidationResult

__all__ = ["ReloadableSettings", "on_change"]

F = TypeVar("F", bound=Callable[..., Any])


# --------------------------------------------------------------------------- @on_change


class _OnChangeSpec:
    # A plain class, not a dataclass: generating a dataclass's methods costs import time.
    __slots__ = ("critical", "paths", "prepare", "timeout")

    def __init__(
        self, paths: tuple[str, ...], critical: bool, prepare: bool = False, timeout: float | None = None
    ) -> None:
        self.paths = paths
        self.critical = critical
        self.prepare = prepare
        self.timeout = timeout

    def __repr__(self) -> str:
        return (f"_OnChangeSpec(paths={self.paths!r}, critical={self.critical!r}, prepare={self.prepare!r}, "
                f"timeout={self.timeout!r})")


def _check_handler_options(func: Any, *, critical: bool, prepare: bool, timeout: float | None) -> None:
    """Refuse option combinations that cannot work, when the handler is declared."""
    if timeout is not None and not timeout > 0:
        raise ValueError(f"timeout must be > 0 seconds, not {timeout!r}")
    if prepare:
        if critical or timeout is not None:
            raise TypeError("a preparer takes neither critical= nor timeout= (it can veto the version by raising)")
        if inspect.iscoroutinefunction(func) or inspect.isasyncgenfunction(func):
            raise TypeError(f"preparer {getattr(func, '__qualname__', func)!r} must be synchronous: it runs before the commit")


@overload
def on_change(__func: F) -> F: ...
@overload
def on_change(
    *paths: str, critical: bool = False, prepare: bool = False, timeout: float | None = None
) -> Callable[[F], F]: ...
def on_change(*paths: Any, critical: bool = False, prepare: bool = False, timeout: float | None = None) -> Any:
    """Mark a settings method (sync or ``async def``) as a change handler, or as a preparer.

    The method is called with a [Diff][livesettings.Diff] once per accepted version in which
    anything at or under one of ``paths`` changed; with no paths, on any change.

    With ``prepare=True`` it is a *preparer*: called before the version is committed, with the
    candidate's ``Diff`` (``diff.version`` is ``None``), inside the reload pipeline. Raising vetoes
    the version (a [ReloadError][livesettings.ReloadError] naming the preparer; the current
    config stays). A generator preparer builds what the new config needs before its single
    ``yield``, and the ``yield`` then evaluates to ``True`` if the version was committed or to
    ``False`` if it was not (another preparer vetoed it); type it as
    [Preparation][livesettings.typing.Preparation].

    Args:
        *paths: dotted paths such as ``"logging.level"`` or ``"database"``.
        critical: if the handler raises, the version is rolled back (sync handlers only).
        prepare: the method is a preparer (synchronous; no ``critical`` or ``timeout``).
        timeout: seconds a call may take before it is abandoned and reported as a dead letter;
            the handler then runs on a worker thread of its own and can never hold up the other
            handlers, later versions or ``close()`` for longer. ``None``: the
            ``ReloadConfig.handler_timeout_s`` default; ``math.inf``: none.

    Example:
        ```python
        class AppSettings(ReloadableSettings):
            level: str = "INFO"

            @on_change("level")
            def _apply(self, diff: Diff) -> None:
                logging.getLogger().setLevel(diff.new_value)
        ```

    Example of a preparer:
        ```python
        class AppSettings(ReloadableSettings):
            database: Database

            @on_change("database", prepare=True)
            def _new_pool(self, diff: Diff) -> Preparation:
                pool = Pool(diff.new_value.url)  # raising here vetoes the version
                if (yield):
                    swap_pool(pool)
                else:
                    pool.close()
        ```

    Added in 0.1. Changed in 0.3: ``prepare`` and ``timeout``.
    """
    if len(paths) == 1 and callable(paths[0]) and not isinstance(paths[0], str):
        func = paths[0]
        func.__livesettings_on_change__ = _OnChangeSpec((), critical)
        return func
    for path in paths:
        if not isinstance(path, str):
            raise TypeError(f"on_change paths must be strings, got {path!r}")

    def decorate(func: F) -> F:
        _check_handler_options(func, critical=critical, prepare=prepare, timeout=timeout)
        func.__livesettings_on_change__ = _OnChangeSpec(tuple(paths), critical, prepare, timeout)  # type: ignore[attr-defined]
        return func

    return decorate


# --------------------------------------------------------------------------- snapshot model


class SnapshotSettings(BaseSettings):
    """Base of every generated snapshot model: frozen, and read through livesettings' sources."""

    model_config = SettingsConfigDict(frozen=True)

    def __repr_args__(self) -> list[tuple[str | None, Any]]:
        """Secrets masked (see ``_redact``): ``repr``, ``str``, rich and devtools all read this."""
        return masked_repr_args(self)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        user = getattr(cls, "__livesettings_sources__", None)
        if user is not None:
            named = {
                "init_settings": init_settings, "env_settings": env_settings,
                "dotenv_settings": dotenv_settings, "file_secret_settings": file_secret_settings,
            }
            if _takes_keywords(user):  # as pydantic-settings calls it (``**kwargs`` signatures work)
                sources = tuple(user(settings_cls, **named))
            else:  # a ``*sources`` signature, which livesettings has always accepted
                sources = tuple(user(settings_cls, *named.values()))
        else:
            sources = (init_settings, env_settings, dotenv_settings, file_secret_settings)
        from ._sources import live_sources  # noqa: PLC0415 - the engine side loads with the first object

        return live_sources(settings_cls, sources)

    @classmethod
    def _settings_log_debug(cls, states: dict[str, dict[str, Any]]) -> None:
        # pydantic-settings' PYDANTIC_SETTINGS_DEBUG report, with secrets masked: they never reach a log.
        from ._validate import mask_source_state  # noqa: PLC0415

        super()._settings_log_debug({name: mask_source_state(cls, name, state) for name, state in states.items()})

    @classmethod
    def _settings_build_values(
        cls, sources: tuple[PydanticBaseSettingsSource, ...], init_kwargs: dict[str, Any]
    ) -> dict[str, Any]:
        # pydantic-settings' private merge step (2.x: called by BaseSettings.__init__ between the
        # sources and validation): the one point where the built sources and the merged input exist
        # before validation, so the only place a load can keep the sources for the next one and
        # swap unchanged sections for their last instances. A reload calls it directly (_loader).
        # pydantic-settings puts its command-line source (``cli_parse_args``, ``CliApp.run``) in
        # front of what settings_customise_sources returned: it records what it gives, as the others do.
        if any(isinstance(s, CliSettingsSource) for s in sources):
            from ._sources import recorded_cli  # noqa: PLC0415 - the engine side loads with the first object

            sources = recorded_cli(sources)
        values = super()._settings_build_values(sources, init_kwargs)
        return (_merged or _load_merged())(cls, sources, init_kwargs, values)


# ``_sources.merged``, imported by the first load and kept here: every reload calls it, and a reload
# should not pay for an import statement (a few thousand instructions) each time.
_merged: Callable[..., dict[str, Any]] | None = None


def _load_merged() -> Callable[..., dict[str, Any]]:
    global _merged
    from ._sources import merged  # noqa: PLC0415 - the engine side loads with the first object

    _merged = merged
    return merged


def _as_base_settings(exc: Exception) -> Exception:
    """``exc`` naming ``BaseSettings``' member where it names our internal ``SnapshotSettings``' override."""
    text = str(exc)
    for name in vars(SnapshotSettings):
        ours = getattr(SnapshotSettings, name, None)
        if callable(ours) and str(ours) in text:
            text = text.replace(str(ours), str(getattr(BaseSettings, name)))
    return exc if text == str(exc) or type(exc) not in (NameError, ValueError) else type(exc)(text)


def _takes_keywords(func: Any) -> bool:
    """Whether ``settings_customise_sources`` accepts the sources by keyword."""
    try:
        inspect.signature(func).bind(None, init_settings=0, env_settings=0, dotenv_settings=0, file_secret_settings=0)
    except TypeError:
        return False
    except ValueError:  # no signature to read
        return True
    return True


def _is_classvar(annotation: Any) -> bool:
    if isinstance(annotation, str):
        return annotation.replace("typing.", "").replace("t.", "").startswith("ClassVar")
    return annotation is ClassVar or typing.get_origin(annotation) is ClassVar


def _snapshot_annotation(annotation: Any, frame: Any = None) -> Any:
    """A field typed as a settings class is validated (and read from ``DB__HOST``) as its snapshot model.

    A string annotation (``from __future__ import annotations``) that names a settings class
    defined already is resolved here, in the namespace of the class body; any other stays a string.
    """
    if isinstance(annotation, str) and frame is not None and "ClassVar" not in annotation:
        try:
            resolved = eval(annotation, frame.f_globals, frame.f_locals)  # noqa: S307 - what pydantic does
        except Exception:  # noqa: BLE001 - a name defined later: pydantic resolves it then
            return annotation
        swapped = _snapshot_annotation(resolved)
        return swapped if swapped is not resolved else annotation
    if isinstance(annotation, _SettingsMeta) and "__snapshot__" in annotation.__dict__:
        return annotation.__snapshot__
    args = typing.get_args(annotation)
    if not args:
        return annotation
    if typing.get_origin(annotation) is typing.Annotated:  # ``CliSubCommand[Sub]``, ``Annotated[Sub, Field()]``
        inner = _snapshot_annotation(args[0])
        return annotation if inner is args[0] else annotation.copy_with((inner,))  # keeps the metadata
    new_args = tuple(_snapshot_annotation(a) for a in args)
    if all(new is old for new, old in zip(new_args, args)):  # at any depth: ``Optional[list[Sub]]``
        return annotation
    origin = typing.get_origin(annotation)
    try:
        if origin is typing.Union or (sys.version_info >= (3, 10) and origin is types.UnionType):
            return typing.Union[new_args]  # noqa: UP007
        if isinstance(annotation, types.GenericAlias):  # ``list[Sub]``
            return types.GenericAlias(origin, new_args)
        return annotation.copy_with(new_args)
    except (AttributeError, TypeError):
        return annotation


# Class attributes answered by the snapshot model (``AppSettings.model_json_schema()``, the
# pydantic-settings internals ``CliApp`` and the sources call, pydantic's own dunders).
_MODEL_API = ("model_", "__pydantic_", "settings_", "_settings_", "__get_pydantic", "__class_vars__",
              "__private_attributes__")


_FACADE_ONLY = frozenset({"reload_config", "__module__", "__qualname__", "__doc__", "__classcell__", "__slots__"})


class _SettingsMeta(ModelMetaclass):
    """Splits a settings class body into a snapshot model and a façade (see module docstring).

    It derives from pydantic's metaclass only so that a settings class can also name pydantic
    models among its bases (``class S(ReloadableSettings, CommonFields)``, as ``CliApp`` does):
    those become bases of the snapshot model. The façade itself is built by ``type`` and is no
    pydantic model (pydantic's ``__getattr__`` would make every attribute read ~4x slower).
    """

    __snapshot__: type[BaseSettings]
    __livesettings_handlers__: tuple[tuple[str, _OnChangeSpec], ...]

    def __new__(mcs, name: str, bases: tuple[type, ...], ns: dict[str, Any], **kwargs: Any) -> _SettingsMeta:
        if ns.pop("__livesettings_root__", False):
            return type.__new__(mcs, name, bases, ns, **kwargs)
        # pydantic models and stdlib dataclasses among the bases: pydantic collects their fields.
        models = tuple(
            b for b in bases
            if not isinstance(b, _SettingsMeta) and (issubclass(b, BaseModel) or dataclasses.is_dataclass(b))
        )
        bases = tuple(b for b in bases if b not in models) or (ReloadableSettings,)
        frame = sys._getframe(1)
        annotations: dict[str, Any] = {
            k: _snapshot_annotation(v, frame) for k, v in ns.get("__annotations__", {}).items()
        }
        classvars = {k for k, v in annotations.items() if _is_classvar(v)}
        snap_ns: dict[str, Any] = {
            "__module__": ns.get("__module__"),
            "__qualname__": f"{ns.get('__qualname__', name)}.Snapshot",
            "__doc__": ns.get("__doc__"),
            "__annotations__": {k: v for k, v in annotations.items() if k != "reload_config"},
        }
        facade_ns: dict[str, Any] = {}
        for key, value in ns.items():
            if key == "__annotations__":
                continue
            if key in _FACADE_ONLY or hasattr(value, "__livesettings_on_change__"):
                facade_ns[key] = value
            elif key == "model_config":
                snap_ns[key] = value
            elif key == "settings_customise_sources":
                snap_ns["__livesettings_sources__"] = value
            elif key in classvars:  # a class constant: readable from validators and from the façade
                snap_ns[key] = value
                facade_ns[key] = value
            elif key in annotations or isinstance(value, PydanticDescriptorProxy):
                snap_ns[key] = value
            else:  # helpers, properties, constants: usable from validators and from the façade
                facade_ns[key] = value
                if not (key.startswith("__") and key.endswith("__")):
                    snap_ns[key] = value
        facade_ns["__annotations__"] = annotations

        snap_bases: tuple[type, ...] = tuple(
            b.__snapshot__ for b in bases if isinstance(b, _SettingsMeta) and "__snapshot__" in b.__dict__
        )
        if models:  # pydantic models, dataclasses among the bases: the snapshot model derives from them too
            snap_bases = (*(snap_bases or (SnapshotSettings,)), *(m for m in models if m is not BaseModel))
        model_meta: Any = type(SnapshotSettings)
        # Class keyword arguments (``class S(ReloadableSettings, env_prefix="APP_")``) are config,
        # as for any pydantic model: they go to the snapshot model, never to the façade.
        try:
            snapshot_cls: type[BaseSettings] = model_meta(
                name, snap_bases or (SnapshotSettings,), snap_ns, **kwargs  # its qualname says Snapshot
            )
        except (NameError, ValueError) as exc:  # a field named like a member of the base (protected namespaces)
            raise _as_base_settings(exc) from None
        # pydantic keeps the locals of the frame that called it, to resolve annotations later: here
        # this frame's (``frame``, the user's frame, which will hold the class: a class defined in a
        # function stayed alive). A BaseSettings keeps its defining frame's locals: so does ours.
        snapshot_cls.__pydantic_parent_namespace__ = build_lenient_weakvaluedict(parent_frame_namespace())
        if not snapshot_cls.__pydantic_complete__:  # annotations naming classes local to a function
            frame = sys._getframe(1)
            try:
                snapshot_cls.model_rebuild(_types_namespace={**frame.f_globals, **frame.f_locals})
            except PydanticUndefinedAnnotation:  # a class defined later: resolved on first use, as pydantic does
                pass

        clashes = sorted(set(snapshot_cls.model_fields) & _RESERVED)
        if clashes:
            raise TypeError(
                f"{name}: field name(s) {', '.join(clashes)} clash with the ReloadableSettings API; "
                f"rename them and keep the config key with an alias, e.g. "
                f"app_{clashes[0]}: str = Field(alias={clashes[0]!r})"
            )
        cls = type.__new__(mcs, name, bases, facade_ns)
        cls.__snapshot__ = snapshot_cls
        snapshot_cls.__livesettings_facade__ = cls  # type: ignore[attr-defined]
        cls.__livesettings_handlers__ = _handlers(cls)
        for attr, spec in cls.__livesettings_handlers__:
            from ._unknown import check_path  # noqa: PLC0415 - only a class with handlers needs it
            for path in spec.paths:
                try:
                    check_path(snapshot_cls, path)
                except ValueError as exc:
                    raise ValueError(f"{name}.{attr}: @on_change({path!r}): {exc}") from None
        return cls

    @classmethod
    def __prepare__(mcs, name: str, bases: tuple[type, ...], **kwargs: Any) -> dict[str, object]:  # type: ignore[override]
        return {}

    def __init__(cls, name: str, bases: tuple[type, ...], ns: dict[str, Any], **kwargs: Any) -> None:
        type.__init__(cls, name, bases, ns)  # class keyword arguments went to the snapshot model

    def __instancecheck__(cls, instance: Any) -> bool:
        """A snapshot of a settings class is an instance of it too (``isinstance(snap, AppSettings)``):
        a nested settings field, ``model_validate`` and ``model_copy`` give snapshots. Not of
        ``ReloadableSettings`` itself, whose API (``reload``, ``close`` ...) only live objects have."""
        if type.__instancecheck__(cls, instance):
            return True
        facade = getattr(type(instance), "__livesettings_facade__", None)  # a frozen twin inherits it
        return facade is not None and cls is not ReloadableSettings and issubclass(facade, cls)

    def __getattr__(cls, name: str) -> Any:
        """Class access to a field (``AppSettings.port``) gives its ``FieldInfo``.

        It lives on the metaclass on purpose: any class attribute named like a field whose type is
        not an immutable builtin (a descriptor, or a ``FieldInfo``) stops CPython from
        specialising the instance read ``settings.port`` (measured 2.5x slower on 3.11).
        """
        try:  # the normal lookup (it never comes back here): the class's own or an inherited one
            snapshot_cls = type.__getattribute__(cls, "__snapshot__")
        except AttributeError:  # ReloadableSettings itself
            snapshot_cls = None
        if snapshot_cls is not None and name in snapshot_cls.model_fields:
            return snapshot_cls.model_fields[name]
        if snapshot_cls is not None and name == "Snapshot":  # its qualname: how pickle finds the class
            return snapshot_cls
        if snapshot_cls is not None and name.startswith(_MODEL_API):  # the class is usable as its model
            return getattr(snapshot_cls, name)
        raise AttributeError(f"type object {cls.__name__!r} has no attribute {name!r}")


# --------------------------------------------------------------------------- the façade


_CACHE: weakref.WeakKeyDictionary[type, Any] = weakref.WeakKeyDictionary()  # settings_cached()
_CACHE_LOCKS: weakref.WeakKeyDictionary[type, threading.Lock] = weakref.WeakKeyDictionary()
_CACHE_GUARD = threading.Lock()


class _FromModel:
    """A class attribute of the snapshot model, on the façade class and its instances alike
    (``AppSettings.model_config``, ``settings.model_fields``, ``settings.model_json_schema()``).

    A non-data descriptor under a name no field can take, so field reads stay plain lookups.
    """

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, owner: Any = None) -> Any:
        snapshot_cls = (owner if owner is not None else type(obj)).__dict__.get("__snapshot__")
        if snapshot_cls is None:
            snapshot_cls = getattr(owner if owner is not None else type(obj), "__snapshot__", None)
        if snapshot_cls is None:  # ReloadableSettings itself
            return getattr(SnapshotSettings, self.name)
        return getattr(snapshot_cls, self.name)


def _facade_dict(snapshot: BaseModel) -> dict[str, Any]:
    extra = snapshot.__pydantic_extra__
    if not extra:
        return dict(snapshot.__dict__)
    # extra="allow": a config key must not shadow the API (``reload: true`` in a file would
    # otherwise replace the reload method). Such keys stay readable through snapshot().
    allowed = {k: v for k, v in extra.items() if k not in _RESERVED and not k.startswith("_")}
    return {**snapshot.__dict__, **allowed}


class ReloadableSettings(metaclass=_SettingsMeta):
    """Typed settings that stay current: declare fields as in pydantic-settings, read them as attributes.

    Construction loads and validates every source (raising [ReloadError][livesettings.ReloadError]
    on invalid config), then watches the files unless hot reload is off (production, or
    ``ReloadConfig(enabled=False)``). Attribute reads always return the current validated
    snapshot's values; they take no lock. A section read (``db = settings.database``) is an
    immutable object of the version it came from: use [snapshot][livesettings.ReloadableSettings.snapshot]
    when several values must come from one version.

    Thread-safety: reads from any thread; ``reload``/``rollback`` from any thread (serialised);
    ``@on_change`` handlers run after the commit, with no internal lock held.

    Example:
        ```python
        class AppSettings(ReloadableSettings):
            model_config = SettingsConfigDict(yaml_file="config.yaml")
            reload_config = ReloadConfig(debounce_ms=50)
            port: int = 8080

        with AppSettings() as settings:
            print(settings.port)
        ```

    Added in 0.1.
    """

    __livesettings_root__ = True
    __slots__ = ("__dict__", "__weakref__", "_ls_engine", "_ls_manager", "_ls_snapshot")
    __snapshot__: ClassVar[type[BaseSettings]]
    __livesettings_handlers__: ClassVar[tuple[tuple[str, _OnChangeSpec], ...]] = ()
    _ls_engine: Engine
    _ls_manager: HotReloadManager | None
    _ls_snapshot: Any
    reload_config: ClassVar[ReloadConfig] = ReloadConfig()

    def __init__(self, **values: Any) -> None:
        """Load, validate and (unless disabled) start watching.

        Args:
            **values: init values, highest priority, as for pydantic-settings (including
                ``_env_file``, ``_secrets_dir`` ...). They are re-applied on every reload.

        Raises:
            ReloadError: the initial config is invalid (names file, line and field).
            ProductionReloadError: hot reload requested in production without the opt-in.
        """
        cls = type(self)
        build = values.pop("_build_sources", None)
        if build is not None:
            values = _from_built_sources(build, values)
        for key, value in values.items():  # ``Outer(inner=Inner())``: a nested settings field takes a live object
            if isinstance(value, ReloadableSettings):
                values[key] = value.snapshot()
        if not cls.__snapshot__.__pydantic_complete__:  # forward references: resolvable by now
            cls.__snapshot__.model_rebuild(raise_errors=False)
        ref = weakref.ref(self)

        def publish(version: Version) -> None:
            obj = ref()
            if obj is not None:
                object.__setattr__(obj, "__dict__", _facade_dict(version.snapshot))
                object.__setattr__(obj, "_ls_snapshot", version.snapshot)

        from ._engine import Engine  # noqa: PLC0415 - the engine side loads with the first object

        engine = Engine(cls.__snapshot__, values, cls.reload_config, name=cls.__qualname__, publish=publish)
        object.__setattr__(self, "_ls_engine", engine)
        object.__setattr__(self, "_ls_manager", None)
        for attr, spec in cls.__livesettings_handlers__:
            if spec.prepare:
                engine.notifier.add_preparer(spec.paths or ("",), getattr(self, attr), weak=True)
            else:
                engine.notifier.subscribe(
                    spec.paths or ("",), getattr(self, attr), critical=spec.critical, weak=True, timeout=spec.timeout
                )
        engine.start()
        weakref.finalize(self, engine.close)

    # -- reads ---------------------------------------------------------------------------
    def snapshot(self) -> Any:
        """The whole current snapshot: an immutable pydantic model for consistent multi-value reads."""
        return self._ls_snapshot

    @property
    def version(self) -> Version:
        """The current [Version][livesettings.Version]."""
        current = self._ls_engine.store.current
        assert current is not None
        return current

    @property
    def history(self) -> tuple[Version, ...]:
        """Accepted versions, oldest first, at most ``reload_config.max_versions``."""
        return self._ls_engine.history.as_tuple()

    @property
    def last_error(self) -> ReloadError | None:
        """Why the last attempted reload was rejected (``None`` after a success)."""
        return self._ls_engine.health.last_error

    @property
    def pending_restart(self) -> dict[str, Change]:
        """Changes to ``Restart`` fields seen in the sources but not applied, by dotted path."""
        return dict(self._ls_engine.pending_restart)

    @property
    def hot_reload(self) -> HotReloadManager:
        """The [HotReloadManager][livesettings.HotReloadManager] of this object (enable, disable, metrics ...)."""
        manager = self._ls_manager
        if manager is None:
            from ._manager import HotReloadManager  # noqa: PLC0415

            manager = HotReloadManager(self._ls_engine)
            object.__setattr__(self, "_ls_manager", manager)
        return manager

    # -- pydantic's model API, answered by the current snapshot ----------------------------
    model_config = _FromModel()
    model_fields = _FromModel()
    model_computed_fields = _FromModel()
    model_json_schema = _FromModel()
    model_validate = _FromModel()
    model_validate_json = _FromModel()
    model_validate_strings = _FromModel()
    model_construct = _FromModel()
    model_rebuild = _FromModel()
    model_parametrized_name = _FromModel()
    settings_customise_sources = _FromModel()

    @classmethod
    def settings_cached(cls) -> Self:
        """One shared live object of this class, built on first use (pydantic-settings' ``settings_cached``).

        Each class has its own; it is built once even when several threads ask at the same time,
        without holding a lock that other classes' construction waits on.

        Added in 0.4.
        """
        with _CACHE_GUARD:
            hit = _CACHE.get(cls)
            if hit is not None:
                return typing.cast(Self, hit)
            lock = _CACHE_LOCKS.setdefault(cls, threading.Lock())
        with lock:
            with _CACHE_GUARD:
                hit = _CACHE.get(cls)
            if hit is None:
                hit = cls()
                with _CACHE_GUARD:
                    _CACHE[cls] = hit
            return typing.cast(Self, hit)

    @classmethod
    def settings_clear_cache(cls) -> None:
        """Forget this class's ``settings_cached()`` object (not its subclasses'); it is not closed.

        Added in 0.4.
        """
        with _CACHE_GUARD:
            _CACHE.pop(cls, None)

    def model_dump(self, **kwargs: Any) -> dict[str, Any]:
        """``model_dump()`` of the current snapshot (pydantic's arguments)."""
        return self._ls_snapshot.model_dump(**kwargs)  # type: ignore[no-any-return]

    def model_dump_json(self, **kwargs: Any) -> str:
        """``model_dump_json()`` of the current snapshot (pydantic's arguments)."""
        return self._ls_snapshot.model_dump_json(**kwargs)  # type: ignore[no-any-return]

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Any:
        """A copy of the current snapshot (a frozen model, ``isinstance`` of this class), not a live object."""
        return self._ls_snapshot.model_copy(update=update, deep=deep)

    @property
    def model_fields_set(self) -> set[str]:
        """The fields the sources set in the current snapshot (the others have their defaults)."""
        return self._ls_snapshot.model_fields_set  # type: ignore[no-any-return]

    @property
    def model_extra(self) -> dict[str, Any] | None:
        """Extra values of the current snapshot (``extra="allow"``), as in pydantic."""
        return self._ls_snapshot.model_extra  # type: ignore[no-any-return]

    @property
    def __pydantic_extra__(self) -> dict[str, Any] | None:
        """pydantic's attribute behind ``model_extra``, of the current snapshot."""
        return self._ls_snapshot.__pydantic_extra__  # type: ignore[no-any-return]

    @property
    def __pydantic_fields_set__(self) -> set[str]:
        """pydantic's attribute behind ``model_fields_set``, of the current snapshot."""
        return self._ls_snapshot.__pydantic_fields_set__  # type: ignore[no-any-return]

    def __iter__(self) -> Iterator[tuple[str, Any]]:
        """``(field, value)`` pairs of the current snapshot, as iterating a pydantic model gives."""
        return iter(self._ls_snapshot)

    def __eq__(self, other: object) -> bool:
        """Equal to a settings object or snapshot of the same class holding equal values (like pydantic)."""
        if isinstance(other, ReloadableSettings) and type(other) is type(self):
            return bool(self._ls_snapshot == other._ls_snapshot)
        if isinstance(other, BaseModel) and type(other) is type(self._ls_snapshot):
            return bool(self._ls_snapshot == other)
        return NotImplemented

    __hash__ = object.__hash__  # a live object: identity (its values change under it)

    def __str__(self) -> str:
        """pydantic's ``str()`` of the current snapshot (``port=8080 debug=False``), secrets masked."""
        return str(self._ls_snapshot)

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> Any:
        """A field typed as this class validates as its snapshot model."""
        return handler(cls.__snapshot__)

    def stats(self) -> ReloadStats:
        """Reload counts by result, the version served, breaker and feed state, reload durations.

        A frozen [ReloadStats][livesettings.ReloadStats] copied from counters the reloading
        thread keeps anyway: calling it takes no lock, and recording them costs reads nothing.
        [livesettings.integrations.prometheus][livesettings.integrations.prometheus] exports it.

        Example:
            ```python
            stats = settings.stats()
            print(stats.version, stats.reloads["rejected"], stats.breaker_state)
            ```

        Added in 0.3.
        """
        engine = self._ls_engine
        return engine.health.stats(engine.store.current, engine.feeds.statuses())

    # -- changes -------------------------------------------------------------------------
    def reload(self) -> Version | None:
        """Reload every source now.

        Returns:
            The new version, or ``None`` when nothing changed.

        Raises:
            ReloadError: the new config is invalid; the current one keeps serving.
        """
        return self._ls_engine.reload()

    def check(self) -> ValidationResult:
        """Validate the sources as they are now without applying them (like ``nginx -t``)."""
        return self._ls_engine.check()

    def rollback(self, version_id: str | None = None) -> Version:
        """Restore the version before the current one, or the version with ``version_id``.

        The rollback is recorded as a new version whose ``source`` is ``"rollback"``; calling
        ``rollback()`` again walks further back. A rolled-back config stays until a source's
        content changes again (the watcher does not re-apply the same files).

        Raises:
            VersionNotFoundError: no such version, or nothing earlier (a ``LookupError``).
        """
        return self._ls_engine.rollback(version_id)

    def explain(self, path: str) -> Origin:
        """Where the value at dotted ``path`` came from, and which sources it shadowed.

        Example:
            ```python
            origin = settings.explain("database.port")
            print(origin)  # database.port = 5433 from env APP_DATABASE__PORT (shadows .env:2 = 5432)
            ```

        The origin names the source that won (a file with line and column, an environment
        variable, a ``.env`` line, a secrets file, an init value, or ``default``); values are
        masked like everywhere else. When the value served is not what the sources hold (a
        rollback, an override, or a ``Restart`` field waiting), that is the origin, and what the
        sources say is in ``origin.shadowed``.

        Raises:
            ValueError: no field can reach ``path`` (the message names the closest field).

        Added in 0.2.
        """
        engine = self._ls_engine
        assert engine.store.current is not None
        return engine.loader.explain(engine.store.current, path)

    def diff(self, a: str, b: str) -> tuple[Change, ...]:
        """Leaf changes from version ``a`` to version ``b`` (ids from ``history``)."""
        from ._diff import diff_snapshots  # noqa: PLC0415

        find = self._ls_engine.history.get  # pinned versions too
        return diff_snapshots(find(a).snapshot, find(b).snapshot, share=False)

    def watch(
        self, path: str, callback: Callable[..., Any], *, timeout: float | None = None, prepare: bool = False
    ) -> SubscriptionHandle:
        """Call ``callback(diff)`` for each accepted version that changes ``path`` or below.

        Args:
            path: a dotted path (``""``: every change).
            callback: a function or ``async def`` taking a [Diff][livesettings.Diff].
            timeout: as for [on_change][livesettings.on_change].
            prepare: ``callback`` is a preparer (see [on_change][livesettings.on_change]).

        Returns:
            A handle; ``handle.cancel()`` stops the calls.

        Raises:
            ValueError: no field can reach ``path`` (the message names the closest field).

        Changed in 0.3: ``timeout`` and ``prepare``.
        """
        from ._unknown import check_path  # noqa: PLC0415

        check_path(type(self).__snapshot__, path)
        _check_handler_options(callback, critical=False, prepare=prepare, timeout=timeout)
        if prepare:
            return self._ls_engine.notifier.add_preparer(path, callback)
        return self._ls_engine.notifier.subscribe(path, callback, timeout=timeout)

    # -- consistency and asyncio ---------------------------------------------------------
    def pinned(self) -> Pin:
        """One version for a block of reads: ``with settings.pinned() as snap:``.

        ``snap`` is the current version's snapshot (what [snapshot][livesettings.ReloadableSettings.snapshot]
        returns), so every read on it in the block comes from that one version and returns the same
        objects, whatever is committed meanwhile. The context manager's ``version`` attribute is the
        [Version][livesettings.Version] it belongs to (reading ``snapshot()`` and ``version`` one after
        the other could straddle a commit). While the block runs, that version can be found by id even
        if it left the history: ``rollback(pin.version.id)`` and ``diff(pin.version.id, ...)`` work.

        Example:
            ```python
            with settings.pinned() as snap:
                connect(snap.database.host, snap.database.port)
            ```

        Added in 0.3.
        """
        return Pin(self._ls_engine)

    async def wait_for_version(self, number: int, *, timeout: float | None = None) -> Version:
        """Wait until version ``number`` (a [Version.number][livesettings.Version]) or a later one is served.

        It returns as soon as the version is committed (a reader sees its values), which may be
        before its handlers have run.

        Args:
            number: the version number to wait for.
            timeout: seconds to wait at most; ``None`` waits as long as it takes.

        Returns:
            The version served then (its number is at least ``number``).

        Raises:
            TimeoutError: no such version within ``timeout``.
            ClosedError: the settings object closed first.

        Added in 0.3.
        """
        return await self._ls_engine.waiters.wait(lambda: self.version, number, timeout)

    def changes(self, path: str = "") -> AsyncIterator[Diff]:
        """An async iterator of the [Diff][livesettings.Diff]s at or under ``path``, from now on.

        ``async for diff in settings.changes("database"):`` yields one ``Diff`` per version that
        changed something there. A consumer that falls behind gets one combined ``Diff`` (old value:
        what it last saw; new: the newest), never a queue of stale ones. The loop ends when the
        settings object closes; breaking out of it, or the event loop ending, unsubscribes.

        Raises:
            ValueError: no field can reach ``path`` (the message names the closest field).

        Added in 0.3.
        """
        from ._streams import ChangeStream, iterate  # noqa: PLC0415
        from ._unknown import check_path  # noqa: PLC0415

        check_path(type(self).__snapshot__, path)
        stream = ChangeStream((path.strip("."),))
        handle = self._ls_engine.notifier.attach(path, stream, name=f"changes({path!r})")
        stream.cancel = handle.cancel
        if self._ls_engine.notifier.closed:
            stream.stop(0)
        return iterate(stream)

    def bind_loop(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Run this object's ``async def`` handlers on ``loop`` (default: the running loop).

        It binds every async handler that has no loop of its own: those registered while no loop
        was running (the ``@on_change`` methods of an object created at import time), before or
        after this call, and those whose loop has closed. A handler registered from a running loop
        stays on it; ``handle.bind_loop(loop)`` moves one handler.

        Raises:
            RuntimeError: no ``loop`` given and none is running.

        Added in 0.3.
        """
        self._ls_engine.notifier.bind_loop(loop if loop is not None else asyncio.get_running_loop())

    # -- lifecycle -----------------------------------------------------------------------
    def close(self) -> None:
        """Stop watching and join background threads (idempotent). Reads keep working."""
        self._ls_engine.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(
            f"{type(self).__name__} is read-only: change its sources and reload (or use rollback())"
        )

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is read-only")

    def __repr__(self) -> str:
        snapshot = self._ls_engine.store.snapshot
        if snapshot is None:
            return f"{type(self).__name__}()"
        fields = ", ".join(f"{k}={safe_repr(v, str(k))}" for k, v in snapshot.__repr_args__())
        return f"{type(self).__name__}({fields})"


class Pin:
    """``settings.pinned()``: a context manager giving one version's snapshot for a block of reads.

    Attributes:
        version: the pinned [Version][livesettings.Version]; ``version.snapshot`` is what ``with`` gives.

    Added in 0.3.
    """

    __slots__ = ("_engine", "version")

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        current = engine.store.current
        assert current is not None
        self.version: Version = current  # pinned (kept findable) from __enter__ on

    @property
    def snapshot(self) -> Any:
        """The pinned version's snapshot."""
        return self.version.snapshot

    def __enter__(self) -> Any:
        current = self._engine.store.current
        assert current is not None
        self.version = self._engine.history.pin(current)
        return self.version.snapshot

    def __exit__(self, *exc: object) -> None:
        self._engine.history.unpin(self.version)

    def __repr__(self) -> str:
        return f"<Pin version={self.version.number} id={self.version.id!r}>"


# The bare base works like pydantic-settings' (``ReloadableSettings()``: no fields, read from nothing).
ReloadableSettings.__snapshot__ = SnapshotSettings

_RESERVED = frozenset(n for n in dir(ReloadableSettings) if not n.startswith("_")) | {"model_config"}


def _from_built_sources(build: Any, values: dict[str, Any]) -> dict[str, Any]:
    """Init values for ``_build_sources=(sources, init_kwargs)``, as ``CliApp.run`` passes them.

    Sources read the environment and files when they are built, so a reload cannot reuse them:
    it builds its own every time. What it keeps is what does not change, the init values and the
    parsed command line (the CLI source, which answers from what it parsed).
    """
    sources, init_kwargs = build
    out = {**init_kwargs, **values}
    cli = next((s for s in sources if isinstance(s, CliSettingsSource)), None)
    if cli is not None:
        out.setdefault("_cli_settings_source", cli)
    return out


install_cli_adaptation(_SettingsMeta)


def _handlers(cls: type) -> tuple[tuple[str, _OnChangeSpec], ...]:
    """The ``@on_change`` methods of ``cls``, base classes first (computed once per class).

    A method overridden in a subclass without ``@on_change`` is no longer a handler.
    """
    names: list[str] = []
    for klass in reversed(cls.__mro__):
        for key, value in vars(klass).items():
            if hasattr(value, "__livesettings_on_change__") and key not in names:
                names.append(key)
    found = ((name, getattr(getattr(cls, name), "__livesettings_on_change__", None)) for name in names)
    return tuple((name, spec) for name, spec in found if spec is not None)
