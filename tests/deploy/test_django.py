"""The example Django project (``examples/django_project``) serving live values through Django's test Client.

Each test runs a script in a fresh interpreter: Django's app registry is set up once per process
(``django.setup()`` runs every ``AppConfig.ready()`` once), and the test suite's own process
stays free of Django's global state. The script configures Django with ``settings.configure()``
on a live file in a temp dir, using the example's apps, middleware and URLs, so ``ready()``
creates the settings object as it does in production. Waits are polls with deadlines.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from test_docs import fenced_blocks

ROOT = Path(__file__).resolve().parents[2]
PROJECT = ROOT / "examples" / "django_project"

PRELUDE = '''
import json, logging, os, sys, time
from pathlib import Path

HERE = Path(sys.argv[1])
sys.path.insert(0, sys.argv[2])
LIVE = HERE / "live.yaml"

import django
from django.conf import settings

settings.configure(
    DEBUG=False,
    SECRET_KEY="test-only",
    ALLOWED_HOSTS=["testserver"],
    INSTALLED_APPS=["shop.apps.ShopConfig"],
    MIDDLEWARE=["shop.live.middleware"],
    ROOT_URLCONF="shop_site.urls",
    DATABASES={},
    USE_TZ=True,
    LIVE_SETTINGS_FILE=LIVE,
)
django.setup()

from django.test import Client
from django.test.utils import setup_test_environment

setup_test_environment()
client = Client()


def get(path="/"):
    response = client.get(path)
    assert response.status_code == 200, response.content
    return response.json()


def status():
    """The operator view; it names the process that answered, which is this one."""
    body = get("/config/")
    assert body.pop("pid") == os.getpid()
    return body


def wait_until(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def save(text):
    tmp = LIVE.with_name(LIVE.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, LIVE)


def report(**values):
    print(json.dumps(values), flush=True)
'''

START = """\
banner: Welcome
page_size: 20
log_levels:
  shop: INFO
"""


def run(tmp_path: Path, body: str) -> dict[str, Any]:
    """Write the starting live file, run PRELUDE + ``body``; return the JSON it printed last."""
    (tmp_path / "live.yaml").write_text(START)
    script = tmp_path / "script.py"
    script.write_text(PRELUDE + textwrap.dedent(body))
    env = {k: v for k, v in os.environ.items() if k not in ("LIVESETTINGS_ENV", "APP_ENV", "ENVIRONMENT")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # no __pycache__ left in examples/
    proc = subprocess.run(
        [sys.executable, "-W", "error", str(script), str(tmp_path), str(PROJECT)],
        capture_output=True, text=True, timeout=90, env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert lines, f"no result; stderr:\n{proc.stderr}"
    result: dict[str, Any] = json.loads(lines[-1])
    return result


class TestLiveValues:
    """Requests read the live file's current values; an edit reaches the next requests."""

    def test_edit_reaches_next_request_and_logging(self, tmp_path: Path) -> None:
        """After an edit the requests see the new values and the `shop` logger's new level."""
        result = run(tmp_path, """
            first = get()
            save("banner: Spring sale\\npage_size: 50\\nfeatures:\\n  new_checkout: true\\n"
                 "log_levels:\\n  shop: DEBUG\\n")
            seen = wait_until(lambda: get()["banner"] == "Spring sale")
            leveled = wait_until(lambda: get()["shop_log_level"] == "DEBUG")
            report(first=first, seen=seen, leveled=leveled, after=get(),
                   level=logging.getLogger("shop").level, status=status())
        """)
        assert result["first"] == {
            "banner": "Welcome", "page_size": 20, "new_checkout": False, "version": 1, "shop_log_level": "INFO",
        }  # fmt: skip
        assert result["seen"] and result["leveled"]
        assert result["after"] == {
            "banner": "Spring sale", "page_size": 50, "new_checkout": True, "version": 2, "shop_log_level": "DEBUG",
        }  # fmt: skip
        assert result["level"] == 10
        assert result["status"] == {"version": 2, "watching": True, "last_error": None}

    def test_logger_dropped_from_the_file_is_reset(self, tmp_path: Path) -> None:
        """A logger removed from ``log_levels`` goes back to NOTSET and inherits the root's level again."""
        result = run(tmp_path, """
            started = logging.getLogger("shop").level
            save("banner: Welcome\\n")
            reset = wait_until(lambda: logging.getLogger("shop").level == logging.NOTSET)
            report(started=started, reset=reset, effective=get()["shop_log_level"])
        """)
        assert result == {"started": 20, "reset": True, "effective": "WARNING"}


class TestInvalidEdit:
    """An invalid edit is refused: the requests keep the last good values and logging is untouched."""

    def test_invalid_value_keeps_last_good(self, tmp_path: Path) -> None:
        """page_size 0 breaks a range: the edit is rejected as a whole, log level change included."""
        result = run(tmp_path, """
            save("banner: Broken\\npage_size: 0\\nlog_levels:\\n  shop: DEBUG\\n")
            refused = wait_until(lambda: status()["last_error"] is not None)
            report(refused=refused, status=status(), page=get(), level=logging.getLogger("shop").level)
        """)
        assert result["refused"]
        assert result["status"]["version"] == 1
        assert "page_size" in result["status"]["last_error"]
        assert result["page"] == {
            "banner": "Welcome", "page_size": 20, "new_checkout": False, "version": 1, "shop_log_level": "INFO",
        }  # fmt: skip
        assert result["level"] == 20

    def test_broken_yaml_then_fix(self, tmp_path: Path) -> None:
        """A syntax error keeps the last good values; the next valid edit applies and clears the error."""
        result = run(tmp_path, """
            save("banner: [unclosed\\n")
            refused = wait_until(lambda: status()["last_error"] is not None)
            during = get()
            error = status()["last_error"]
            save("banner: Fixed\\npage_size: 30\\n")
            fixed = wait_until(lambda: get()["banner"] == "Fixed")
            report(refused=refused, during=during, error=error, fixed=fixed, after=get(), status=status())
        """)
        assert result["refused"] and result["fixed"]
        assert result["during"]["banner"] == "Welcome" and result["during"]["version"] == 1
        assert "live.yaml" in result["error"]
        assert result["after"]["page_size"] == 30
        assert result["status"] == {"version": 2, "watching": True, "last_error": None}


class TestProject:
    """The example project as shipped is a working Django project."""

    def test_manage_py_check(self, tmp_path: Path) -> None:
        """``manage.py check`` passes from another directory, the shipped live file valid."""
        env = {k: v for k, v in os.environ.items() if k not in ("LIVESETTINGS_ENV", "APP_ENV", "ENVIRONMENT")}
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        proc = subprocess.run(
            [sys.executable, "-W", "error", str(PROJECT / "manage.py"), "check"],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=90,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        assert "no issues" in proc.stdout
        assert "live settings from" in proc.stderr  # ready() created the object and logged at INFO



class TestHowTo:
    """docs/django.md walks through the example project's own files, not a copy that can drift."""

    @pytest.mark.parametrize("name", ["shop/live.py", "shop/apps.py"])
    def test_page_shows_the_project_file(self, name: str) -> None:
        """The page's block headed with the file's name is that file, verbatim."""
        blocks = [b.code for b in fenced_blocks(ROOT / "docs" / "django.md") if b.code.startswith(f"# {name}\n")]
        assert blocks == [f"# {name}\n" + (PROJECT / name).read_text()]
