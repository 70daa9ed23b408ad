"""Integrations with frameworks and tools; each submodule needs its extra (``pip install livesettings[<name>]``)."""
