"""User-facing errors: the CLI prints the message as one line and exits with code 2."""


class LeashError(Exception):
    """A mistake in the input the user can fix: the message says what, where and how."""
