"""Errors that are the user's to fix (bad input), as opposed to bugs.

The CLI prints a ``UserError`` as one line and exits with code 2, without a traceback.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Union


class UserError(Exception):
    """Bad input: a missing or malformed file, a wrong option, an incompatible checkpoint.

    Args:
        message: what is wrong and, where useful, how to fix it.
        path: the offending file, if any; it is named in the message.
        line: 1-based line number within ``path``, if any.
    """

    def __init__(self, message: str, path: Optional[Union[str, Path]] = None, line: Optional[int] = None) -> None:
        self.path = None if path is None else str(path)
        self.line = line
        where = ""
        if self.path is not None:
            where = self.path + (f":{line}" if line is not None else "") + ": "
        super().__init__(where + message)


class DataError(UserError):
    """A data file or image that cannot be used."""
