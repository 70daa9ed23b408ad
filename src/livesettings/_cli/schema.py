"""``livesettings schema TARGET``: the JSON Schema of the settings, for editors and CI.

Point an editor at it with a ``# yaml-language-server: $schema=...`` modeline in the YAML file or
a ``yaml.schemas`` mapping in ``.vscode/settings.json`` (see the "Command line" page). Defaults of
secret fields are left out (a plain ``str`` default under a credential name would otherwise be
printed), and URL passwords in other defaults are masked.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from .._redact import secret_name
from .common import CommandError, ExitCode, Output, Target, add_json, add_target, masked_json, open_target

__all__ = ["register", "settings_schema"]

DRAFT = "https://json-schema.org/draft/2020-12/schema"


def _scrub(schema: dict[str, Any]) -> None:
    """Drop the defaults and examples of secret properties (and of models only reachable under
    one), and mask what is left, in place."""
    defs: dict[str, Any] = schema.get("$defs", {})
    secret_defs: set[str] = set()

    def walk(node: Any, secret: bool) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item, secret)
            return
        if not isinstance(node, dict):
            return
        ref = node.get("$ref")
        if secret and isinstance(ref, str):
            name = ref.rsplit("/", 1)[-1]
            if name not in secret_defs and name in defs:
                secret_defs.add(name)
                walk(defs[name], True)
        for key in ("default", "examples"):
            if key in node:
                if secret:
                    del node[key]
                else:
                    node[key] = masked_json(node[key])
        for key, value in node.items():
            if key == "$defs":
                continue
            if key == "properties" and isinstance(value, dict):
                for name, sub in value.items():
                    walk(sub, secret or secret_name(name))
            else:
                walk(value, secret)

    walk(schema, False)
    for name, definition in defs.items():
        if name not in secret_defs:
            walk(definition, False)


def settings_schema(target: Target) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the files ``target`` reads, secrets scrubbed."""
    schema = target.cls.__snapshot__.model_json_schema()
    _scrub(schema)
    schema["title"] = target.cls.__name__
    return {"$schema": DRAFT, **schema}


def run(args: argparse.Namespace) -> int:
    with open_target(args) as target:
        schema = settings_schema(target)
    text = json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
    if args.output is None:
        Output().stream.write(text)
        return ExitCode.OK
    try:
        with open(args.output, "w", encoding="utf-8") as fh:
            fh.write(text)
    except OSError as exc:
        raise CommandError(f"--output {args.output}: {exc.strerror or exc}") from None
    print(f"wrote {args.output}", file=sys.stderr)
    return ExitCode.OK


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "schema", help="the JSON Schema of the settings (for editors)",
        description="Print (or write) the JSON Schema of TARGET's config files, for editor completion and checks.",
    )
    add_target(parser)
    parser.add_argument("--output", "-o", metavar="FILE", help="write the schema to FILE instead of standard output")
    add_json(parser)  # the output is JSON anyway; accepted like on every command that prints data
    parser.set_defaults(run=run)
