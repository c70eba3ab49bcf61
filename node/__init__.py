"""The banscan node process: HTTP API, CLI, configuration and authentication."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("banscan")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+source"
