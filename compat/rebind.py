"""pytest plugin for the compatibility run: rebind ``BaseSettings`` and record every outcome.

Loaded with ``-p rebind`` (``compat/`` on ``sys.path``) before pydantic-settings' test modules are
imported. With ``LIVESETTINGS_COMPAT_REBIND=1`` it makes ``pydantic_settings.BaseSettings`` the
``livesettings.ReloadableSettings`` class, so every ``class Settings(BaseSettings)`` in the suite
declares a reloadable settings class. livesettings is imported first, so it keeps the real base.

Only the name the tests import is rebound, as a user's own code would change it: pydantic-settings'
internals keep theirs (``pydantic_settings.main.BaseSettings``, which ``CliApp`` uses to wrap a
plain model), so ``CliApp.run(Settings)`` takes the path a real program takes.

Every test's outcome (``passed``, ``failed``, ``skipped``, ``error``) and the last line of its
failure go to the JSON file named by ``LIVESETTINGS_COMPAT_RESULTS``.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

if os.environ.get("LIVESETTINGS_COMPAT_REBIND") == "1":
    import pydantic_settings

    import livesettings

    pydantic_settings.BaseSettings = livesettings.ReloadableSettings  # type: ignore[misc]

_results: dict[str, dict[str, str]] = {}


def _crash(report: pytest.TestReport) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None:
        return str(crash.message).strip().splitlines()[0][:300] if crash.message else ""
    text = str(report.longrepr or "").strip().splitlines()
    return text[-1][:300] if text else ""


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    entry = _results.setdefault(report.nodeid, {"outcome": "passed", "message": ""})
    if report.failed:
        entry["outcome"] = "failed" if report.when == "call" else "error"
        entry["message"] = _crash(report)
    elif report.skipped and entry["outcome"] == "passed":
        entry["outcome"] = "skipped"
        entry["message"] = _crash(report)


def pytest_sessionfinish(session: Any, exitstatus: int) -> None:
    path = os.environ.get("LIVESETTINGS_COMPAT_RESULTS")
    if path:
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(_results, fh, indent=0, sort_keys=True)
