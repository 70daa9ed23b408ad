"""The command line's commands, one module each (``livesettings.cli`` is the thin entry point).

Each module has ``register(subparsers)``; [common][livesettings._cli.common] holds what they share.
"""

from __future__ import annotations

from . import check, demo, diff, etcd, history, plan, schema, show, watch

__all__ = ["COMMANDS"]

COMMANDS = (check, show, plan, schema, diff, watch, history, etcd, demo)
"""The command modules, in the order ``livesettings --help`` lists them."""
