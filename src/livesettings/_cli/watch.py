"""``livesettings watch TARGET``: a live tail of the versions a running process would see, and their diffs.

It follows TARGET's sources with the engine the settings class would use (the same watcher,
debounce, validation and plan), but builds no settings object: the class's ``@on_change``
handlers are not called and no history file is written. Each accepted version is printed with
its changes, each rejected candidate with its errors, and livesettings' warnings (a change held
for a restart, an edit a higher-priority source hides) as they come. It stops on Ctrl-C or after
``--count`` new versions.
"""

from __future__ import annotations

import argparse
import logging
import queue
import threading
from dataclasses import replace
from typing import Any

from .._engine import Engine
from .._model import Version
from ..exceptions import ProductionReloadError, ReloadError
from .common import (
    CommandError, ExitCode, Output, Target, add_json, add_target, change_json, change_mark, open_target,
    print_rejection, rejection_json,
)  # fmt: skip

__all__ = ["follow", "register"]

_Event = Version | ReloadError | logging.LogRecord


class _Forward(logging.Handler):
    """livesettings' WARNING lines (not the audit log: rejections arrive as errors) into the tail."""

    def __init__(self, events: queue.Queue[_Event]) -> None:
        super().__init__(logging.WARNING)
        self.events = events

    def emit(self, record: logging.LogRecord) -> None:
        if not record.name.startswith("livesettings.audit"):
            self.events.put(record)


def version_json(version: Version) -> dict[str, Any]:
    return {
        "event": "version", "id": version.id, "time": version.timestamp.isoformat(), "number": version.number,
        "source": version.source, "restores": version.restores, "changes": [change_json(c) for c in version.changes],
    }


def print_event(out: Output, event: _Event, *, as_json: bool) -> None:
    if isinstance(event, Version):
        if as_json:
            out.json(version_json(event), compact=True)
            return
        restores = f" (restores {event.restores})" if event.restores else ""
        out.line(out.style(f"#{event.number} {event.id} {event.source}{restores}", "bold"))
        for change in event.changes:
            out.line(f"  {change_mark(out, change)} {change.describe()}")
    elif isinstance(event, ReloadError):
        if as_json:
            out.json({"event": "rejected", **rejection_json(event)}, compact=True)
        else:
            out.line(out.style("rejected, still serving the last good version:", "red", "bold"))
            print_rejection(out, event, indent="  ")
    else:
        message = event.getMessage()
        if as_json:
            out.json({"event": "warning", "message": message}, compact=True)
        else:
            out.line(f"{out.style('warning', 'yellow')}: {message}")


def follow(target: Target, out: Output, *, count: int | None = None, as_json: bool = False,
           stop: threading.Event | None = None) -> int:
    """Print the initial version, then every new one (and every rejection) until ``count`` new
    versions, ``stop`` is set, or Ctrl-C.

    Raises:
        CommandError: hot reload cannot run for ``target`` here (production without the opt-in),
            or its configuration does not load.
    """
    config = replace(target.config, enabled=True, history_file=None)
    events: queue.Queue[_Event] = queue.Queue()
    try:
        engine = Engine(target.cls.__snapshot__, {}, config, name=target.name, environment=target.environment)
    except ProductionReloadError as exc:
        raise CommandError(f"{target.name} does not hot reload in {target.environment}: {exc}", ExitCode.INVALID) from None
    engine.recorders.append(events.put)
    engine.notifier.on_error(lambda error: events.put(error) if isinstance(error, ReloadError) else None)
    forward = _Forward(events)
    root = logging.getLogger("livesettings")
    root.addHandler(forward)
    seen = 0
    try:
        engine.start()
        while count is None or seen < count:
            if stop is not None and stop.is_set():
                break
            try:
                event = events.get(timeout=0.2)
            except queue.Empty:
                continue
            print_event(out, event, as_json=as_json)
            if isinstance(event, Version) and event.source != "initial":
                seen += 1
    except KeyboardInterrupt:
        pass
    finally:
        root.removeHandler(forward)
        engine.close()
    return ExitCode.OK


def run(args: argparse.Namespace) -> int:
    if args.count is not None and args.count < 1:
        raise CommandError("--count must be at least 1")
    with open_target(args) as target:
        return follow(target, Output(), count=args.count, as_json=args.json)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "watch", help="a live tail of new versions and their diffs",
        description="Follow TARGET's sources as a running process would (no handlers are called) and print each "
        "new version with its changes, each rejected edit with its errors, until Ctrl-C or --count versions.",
    )
    add_target(parser)
    parser.add_argument("--count", type=int, metavar="N", help="stop after N new versions (the initial load is not counted)")
    add_json(parser)
    parser.set_defaults(run=run)
