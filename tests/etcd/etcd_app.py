"""The settings class the CLI tests publish against (``etcd_app:App``; the fleet members use the same fields)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from livesettings import ReloadableSettings


class Db(BaseModel):
    host: str = "localhost"
    port: int = Field(5432, ge=1, le=65535)
    password: str = ""


class App(ReloadableSettings):
    port: int = 8000
    name: str = "app"
    api_token: int = 0
    db: Db = Db()
