"""One process of a test fleet: a settings object reading etcd, reporting on stdout as JSON lines.

Usage: ``python etcd_member.py ENDPOINT PREFIX INSTANCE MODE``. ``MODE`` is ``driven`` (the feed
driven as the engine will, see ``etcd_harness.Driven``) or ``engine`` (hot reload by the engine
alone). Prints ``{"event": "ready", ...}``, then ``{"event": "applied", "revision", "port",
"name"}`` for each applied version, and ``{"event": "log", "level", "message", "time"}`` for each
record of the ``livesettings`` loggers at INFO or above (``time`` is ``time.monotonic()``, the
same clock as the test's on Linux). Exits when stdin closes, or after 90 s at the latest.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time

from etcd_harness import Driven, app_class

_out = threading.Lock()


def emit(**event: object) -> None:
    with _out:
        sys.stdout.write(json.dumps(event) + "\n")
        sys.stdout.flush()


class _Events(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        emit(event="log", level=record.levelname, message=record.getMessage(), time=time.monotonic())


def main() -> int:
    endpoint, prefix, instance, mode = sys.argv[1:5]
    logger = logging.getLogger("livesettings")
    logger.addHandler(_Events(logging.INFO))
    logger.setLevel(logging.INFO)
    cls = app_class(endpoint, prefix, watch=(mode == "engine"), instance=instance)
    settings = cls()
    driven: Driven | None = None

    def applied(diff: object) -> None:
        revision = driven.mirror.current() if driven is not None else None
        emit(event="applied", revision=revision, port=settings.port, name=settings.name)

    settings.watch("", applied)
    if mode == "driven":
        driven = Driven(settings, instance=instance).start()
    emit(event="ready", port=settings.port, name=settings.name)
    done = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
    done.wait(90)
    if driven is not None:
        driven.close()
    else:
        settings.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
