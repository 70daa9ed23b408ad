"""pydantic-settings' CLI (``CliApp``, ``CliSettingsSource``) with a ``ReloadableSettings`` class.

pydantic-settings' CLI accepts a class only if ``issubclass(cls, BaseModel)``, and treats it as
settings (its own ``model_config``, values from every source) only if
``issubclass(cls, BaseSettings)``. A settings class is neither: the façade is deliberately no
pydantic model (see ``_settings``), and it cannot be made a *virtual* subclass either, because
pydantic's ``ModelMetaclass`` answers ``issubclass`` with ``type.__subclasscheck__`` (ABC
registration is ignored, with a warning, since pydantic 2.11). So this module adapts, at the
entry points a user calls with a settings class or a live object, and nowhere else:

* ``CliSettingsSource(AppSettings, ...)`` builds the source for the class's snapshot model (a
  real ``BaseSettings`` holding the same fields and config);
* ``CliApp.run(AppSettings, ...)`` runs pydantic-settings' ``BaseSettings`` path (the class's
  own config, sources in priority order) and returns a **live** object: the parsed command
  line becomes its highest-priority init values, kept on every reload, while files and the
  environment keep reloading underneath;
* ``get_subcommand(settings)`` and a settings class in a CLI annotation work (pydantic-settings'
  ``is_model_class`` says yes to a settings class);
* ``CliApp.format_help`` / ``print_help`` / ``serialize`` / ``run_subcommand`` take the class or
  a live object (through ``CliApp._get_base_settings_cls``, which gives the snapshot model).

Every other call goes to pydantic-settings unchanged. The private names touched are all here:
pydantic's ``is_model_class`` as three pydantic-settings modules import it, ``CliApp._get_base_settings_cls``, ``CliApp._subcommand_stack``, ``CliApp._run_cli_cmd`` and
``BaseSettings._settings_init_sources`` (what ``CliApp.run`` itself calls for a
``BaseSettings``), read from pydantic-settings 2.16.
"""

from __future__ import annotations

import functools
from argparse import Namespace
from types import SimpleNamespace
from typing import Any

import pydantic_settings.sources.base as _ps_base
import pydantic_settings.sources.providers.cli as _ps_cli
import pydantic_settings.sources.utils as _ps_utils
from pydantic_settings import CliApp, CliSettingsSource, SettingsError

from ._freeze import thaw

__all__ = ["install"]

_installed = False


def install(meta: type) -> None:
    """Adapt ``CliApp`` and ``CliSettingsSource`` to classes whose metaclass is ``meta`` (once)."""
    global _installed  # noqa: PLW0603 - one adaptation per process
    if _installed:
        return
    _installed = True

    def is_facade(obj: Any) -> bool:
        return isinstance(obj, meta) and obj.__dict__.get("__snapshot__") is not None

    def model_of(cls: Any) -> Any:
        return cls.__snapshot__ if is_facade(cls) else cls

    # ``get_subcommand(settings)``, a settings class in a CLI annotation (``CliSubCommand[Sub]``,
    # its metavar), a live object as a field default: pydantic-settings asks pydantic's private
    # ``is_model_class``, imported by name into these modules. A settings class answers yes, as it
    # answers ``model_fields`` and ``model_config``.
    for module in (_ps_utils, _ps_base, _ps_cli):
        stock_is_model_class = getattr(module, "is_model_class")  # noqa: B009 - untyped there

        def is_model_class(cls: Any, _stock: Any = stock_is_model_class) -> bool:
            return bool(_stock(cls)) or is_facade(cls)

        setattr(module, "is_model_class", is_model_class)  # noqa: B010

    stock_source_init = CliSettingsSource.__init__

    @functools.wraps(stock_source_init)
    def source_init(self: Any, settings_cls: Any, *args: Any, **kwargs: Any) -> None:
        stock_source_init(self, model_of(settings_cls), *args, **kwargs)

    CliSettingsSource.__init__ = source_init  # type: ignore[method-assign]

    stock_base_cls = CliApp._get_base_settings_cls

    @functools.wraps(stock_base_cls)
    def get_base_settings_cls(model_cls: Any) -> Any:
        # A settings class is settings: pydantic-settings returns a BaseSettings unchanged (its own
        # config, not the CLI defaults it gives a plain model). Its snapshot model is that class.
        return model_cls.__snapshot__ if is_facade(model_cls) else stock_base_cls(model_cls)

    CliApp._get_base_settings_cls = staticmethod(get_base_settings_cls)  # type: ignore[method-assign]

    stock_run = CliApp.run

    @functools.wraps(stock_run)
    def run(
        model_cls: Any,
        cli_args: Any = None,
        cli_settings_source: Any = None,
        cli_exit_on_error: bool | None = None,
        cli_show_env_vars: bool | None = None,
        cli_cmd_method_name: str = "cli_cmd",
        **model_init_data: Any,
    ) -> Any:
        if not is_facade(model_cls):
            return stock_run(
                model_cls, cli_args, cli_settings_source, cli_exit_on_error, cli_show_env_vars,
                cli_cmd_method_name, **model_init_data,
            )  # fmt: skip
        # pydantic-settings' CliApp.run, its BaseSettings branch, with the snapshot model's sources
        # and the live object as the command.
        cli_settings = None
        cli_parse_args = True if cli_args is None else cli_args
        if cli_settings_source is not None:
            if isinstance(cli_parse_args, (Namespace, SimpleNamespace, dict)):
                cli_settings = cli_settings_source(parsed_args=cli_parse_args)
            else:
                cli_settings = cli_settings_source(args=cli_parse_args)
        elif isinstance(cli_parse_args, (Namespace, SimpleNamespace, dict)):
            raise SettingsError("Error: `cli_args` must be list[str] or None when `cli_settings_source` is not used")
        sources, init_kwargs = model_cls.__snapshot__._settings_init_sources(
            _cli_parse_args=cli_parse_args,
            _cli_exit_on_error=cli_exit_on_error,
            _cli_show_env_vars=cli_show_env_vars,
            _cli_settings_source=cli_settings,
            _init_kwargs=model_init_data,
        )
        command = model_cls(_build_sources=(sources, init_kwargs))
        source = next(s for s in sources if isinstance(s, CliSettingsSource))
        stack = CliApp._subcommand_stack
        stack[id(command)] = (source, source.root_parser, ":subcommand")
        try:
            return CliApp._run_cli_cmd(command, cli_cmd_method_name, is_required=False)
        finally:
            del stack[id(command)]

    CliApp.run = staticmethod(run)  # type: ignore[method-assign]

    stock_run_subcommand = CliApp.run_subcommand

    @functools.wraps(stock_run_subcommand)
    def run_subcommand(model: Any, *args: Any, **kwargs: Any) -> Any:
        if not is_facade(type(model)):
            return stock_run_subcommand(model, *args, **kwargs)
        # pydantic-settings reads the subcommand off the model and looks its class up: give it the
        # current values in the user's own (mutable) classes, as a plain model would hold them.
        snapshot = thaw(model.snapshot())
        stack = CliApp._subcommand_stack
        entry = stack.get(id(model))
        if entry is None:
            return stock_run_subcommand(snapshot, *args, **kwargs)
        stack[id(snapshot)] = entry
        try:
            return stock_run_subcommand(snapshot, *args, **kwargs)
        finally:
            stack.pop(id(snapshot), None)

    CliApp.run_subcommand = staticmethod(run_subcommand)  # type: ignore[method-assign]
