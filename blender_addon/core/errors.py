"""``SignForgeError``: the one base of every error SignForge raises to say what is wrong with
an input, a file, a request or the machine (never a bug in SignForge itself).

Each carries the exit code the command line ends with when it reaches it (the README's
"Limits" section lists them): the CLI prints its message as one line on stderr and exits
with ``exit_code``; anything else that escapes is a bug (exit 1, ``--debug`` shows it).
Subclasses keep ValueError or RuntimeError as a second base, so existing ``except`` clauses
still hold. Standard library only: the add-on's core ships without the backend, and the
backend imports this module from it. Never bpy.
"""
from __future__ import annotations

EXIT_BUG, EXIT_INPUT, EXIT_IO, EXIT_MEMORY, EXIT_INTERRUPTED = 1, 2, 3, 4, 130


class SignForgeError(Exception):
    """Something the user can fix, said in one line. ``exit_code``: 2 a bad option, input or
    request (the default), 3 a file or folder that cannot be read or written."""
    exit_code: int = EXIT_INPUT


class MissingExtraError(SignForgeError, ImportError):
    """A feature whose packages this installation left out (an optional extra)."""

    def __init__(self, feature: str, extra: str, module: str):
        self.extra = extra
        super().__init__(f"{feature} needs the '{extra}' extra, which is not installed (no module {module!r}): "
                         f"pip install 'signforge[{extra}]'")
