"""Errors shared across stages, in a module of their own so config and the parse package need not import each
other."""


class ConfigError(Exception):
    """A setting is invalid; str(self) is the one line shown to the user."""
