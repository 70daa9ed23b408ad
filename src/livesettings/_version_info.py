"""The package version, read by hatchling and re-exported as ``livesettings.__version__``."""

__version__ = "0.1.0.dev0"
