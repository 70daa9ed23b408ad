"""WSGI entry point: ``gunicorn --preload shop_site.wsgi`` (the settings object is created in the master)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop_site.settings")

application = get_wsgi_application()
