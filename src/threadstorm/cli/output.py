"""Where command output goes: a terminal gets Rich as it is; a log or a pipe gets plain text.

In CI logs (stdout not a terminal) Rich assumes 80 columns and colour codes nobody reads, so
tables squeeze signatures to a few words.  ``output_console`` gives such output a wide page
(``COLUMNS`` when set, else ``PLAIN_WIDTH``), no colour and no highlighting; tables whose
columns fold (``overflow="fold"``) then wrap long values onto more lines instead of cutting them.
"""

from __future__ import annotations

import os
import sys

from rich.console import Console

PLAIN_WIDTH = 200


def plain_width() -> int:
    """The page width for output that is not a terminal."""
    try:
        columns = int(os.environ.get("COLUMNS", ""))
    except ValueError:
        columns = 0
    return columns if columns > 0 else PLAIN_WIDTH


def output_console() -> Console:
    """A console on stdout: Rich's defaults on a terminal, plain wide text elsewhere."""
    if sys.stdout.isatty():
        return Console()
    return Console(width=plain_width(), no_color=True, highlight=False)
