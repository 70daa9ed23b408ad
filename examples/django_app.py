"""Run the example Django project (``examples/django_project``) for a moment, without a server.

Django is configured on a copy of the live file in a temp dir; ``ShopConfig.ready()`` creates the
settings object, Django's test client makes the requests, and an edit of the file shows up in
the next ones, log level included. An invalid edit is refused and the last good values stay.

    python examples/django_app.py
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parent / "django_project"
sys.path.insert(0, str(PROJECT))
sys.dont_write_bytecode = True  # leave no __pycache__ in the example project


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit("the edit was not applied in time")
        time.sleep(0.02)


def save(path: Path, text: str) -> None:
    """Save the way editors do: a temporary file renamed over the original."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def main() -> None:
    import django
    from django.conf import settings
    from django.test import Client
    from django.test.utils import setup_test_environment

    with tempfile.TemporaryDirectory() as tmp:
        live_file = Path(tmp) / "live.yaml"
        live_file.write_text((PROJECT / "config" / "live.yaml").read_text())
        settings.configure(
            SECRET_KEY="example-only",
            ALLOWED_HOSTS=["testserver"],
            INSTALLED_APPS=["shop.apps.ShopConfig"],
            MIDDLEWARE=["shop.live.middleware"],
            ROOT_URLCONF="shop_site.urls",
            DATABASES={},
            USE_TZ=True,
            LIVE_SETTINGS_FILE=live_file,
        )
        django.setup()  # runs ShopConfig.ready(): the settings object is created and watching
        setup_test_environment()
        client = Client()

        def page() -> Any:
            return client.get("/").json()

        print("before:", page())
        text = live_file.read_text().replace("page_size: 20", "page_size: 50").replace("shop: INFO", "shop: DEBUG")
        save(live_file, text)
        wait_until(lambda: page()["page_size"] == 50 and logging.getLogger("shop").level == logging.DEBUG)
        print("after: ", page())

        save(live_file, text.replace("page_size: 50", "page_size: 0"))
        wait_until(lambda: client.get("/config/").json()["last_error"] is not None)
        print("refused:", client.get("/config/").json()["last_error"].splitlines()[1].strip())
        print("still:  ", page())

        from shop import live

        live.stop()


if __name__ == "__main__":
    main()
