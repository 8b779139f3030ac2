"""Errors caused by the user's data or params: stages report them in one line, no traceback."""


class InputError(Exception):
    """Bad input data (a missing column, an empty class, too many corrupt images, ...)."""
