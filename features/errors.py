"""Errors a user can act on: the CLI prints them as one line and exits non-zero, no traceback."""


class WinbackError(Exception):
    """Base for problems in the user's input or setup, as opposed to bugs."""


class ConfigError(WinbackError):
    """A config file is missing, unreadable, or has a bad key; the message names file and key."""


class InputError(WinbackError):
    """A data source cannot be used at all; the message names the file and column."""
