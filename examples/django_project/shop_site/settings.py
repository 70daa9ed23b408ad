"""Django's settings for the example shop: static framework configuration, read once at start-up.

What belongs here is what Django itself reads when it starts and never again: installed apps,
middleware, the URL conf, databases, the logging handlers and formats, the secret key.
Changing any of it means a restart (or a deploy), as Django expects.

Values meant to change while the process runs (a banner, page sizes, feature flags, log
levels) are not here: they live in ``config/live.yaml`` and are read per request through the
livesettings object that ``shop.apps.ShopConfig.ready()`` creates (see ``shop/live.py``).
The path of that file is static, so it is here.
"""

from __future__ import annotations

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "django-insecure-example-only")
DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
ALLOWED_HOSTS = ["localhost", "127.0.0.1"]

INSTALLED_APPS = ["shop.apps.ShopConfig"]
MIDDLEWARE = ["shop.live.middleware"]
ROOT_URLCONF = "shop_site.urls"
WSGI_APPLICATION = "shop_site.wsgi.application"
DATABASES: dict[str, dict[str, str]] = {}
USE_TZ = True

# Handlers and formats are static; the levels below are only the start-up defaults, the live
# file's `log_levels` overrides them while the process runs.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}

# The live values: where they are is static; what they are is not.
LIVE_SETTINGS_FILE = Path(os.environ.get("DJANGO_LIVE_SETTINGS_FILE", BASE_DIR / "config" / "live.yaml"))
