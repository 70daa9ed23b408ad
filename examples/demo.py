"""livesettings in one screen: load, hot reload, a rejected change, a restart field, rollback, history,
then the command line (check, show, plan, history) on the same files.

The tour is the ``livesettings demo`` command (its source, with the settings class it writes, is
``src/livesettings/_cli/demo.py``); ``make demo`` runs it. This script is the same thing from Python.
It works in a temporary directory that it creates and deletes, and finishes in about a second.
"""

from __future__ import annotations

import sys

from livesettings.cli import main

if __name__ == "__main__":
    sys.exit(main(["demo", *sys.argv[1:]]))
