"""What every ``govledger`` command shares on a terminal: exit codes, progress, output files.

Exit codes (docs/operations.md §Exit codes): 0 done; 1 a verification found a break;
2 any other error, reported as one line on stderr; 3 an unexpected error (a bug), one
line too. Long work shows a progress bar on a terminal
(never in a pipe or a log file). Kept apart from ops/cli.py, which registers every
command module: a command module imports this, never the CLI.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from ledger.errors import LedgerError

EXIT_OK, EXIT_FAILED, EXIT_ERROR, EXIT_UNEXPECTED = 0, 1, 2, 3
EXIT_VERSION = 4  # the views are of a newer schema version: this govledger must not write them
MAX_MESSAGE = 500  # characters of one error line


def one_line(e: BaseException) -> str:
    """An exception as one bounded line: its message's first line, else its type's name."""
    lines = [line.strip() for line in str(e).strip().splitlines() if line.strip()]
    text = lines[0] if lines else type(e).__name__
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"


@contextmanager
def progress_bar(total: int, description: str) -> Iterator[Callable[[int], None]]:
    """A tqdm bar on a terminal; silent when stderr is a pipe or file."""
    from tqdm import tqdm  # noqa: PLC0415 - only commands with long work pay for it

    # A terminal that reports no width (some ptys) would make tqdm print nothing.
    width = shutil.get_terminal_size().columns or 80
    with tqdm(
        total=total,
        desc=description,
        unit=" rows",
        unit_scale=True,
        disable=not sys.stderr.isatty(),
        file=sys.stderr,
        ncols=min(width, 100),
    ) as bar:
        yield bar.update


@contextmanager
def output_file(path: str) -> Iterator[TextIO]:
    """``path`` opened for writing, or stdout for ``-``; complete or absent, never half-written."""
    if path == "-":
        yield sys.stdout
        return
    # Write beside, then rename: an interrupted export never looks complete. The path is
    # used literally; a NUL byte, an overlong name or a directory is a one-line error.
    try:
        target = Path(path)
        if target.is_dir():
            raise LedgerError(f"{path!r} is a directory")
        partial = target.with_name(target.name + ".partial")
        handle = partial.open("w", encoding="utf-8")
    except (OSError, ValueError) as e:
        raise LedgerError(f"cannot write {path[:200]!r}: {_reason(e)}") from e
    try:
        with handle:
            yield handle
        partial.replace(target)
    except OSError as e:
        raise LedgerError(f"cannot write {path[:200]!r}: {_reason(e)}") from e
    finally:
        partial.unlink(missing_ok=True)


def _reason(e: OSError | ValueError) -> str:
    return (e.strerror if isinstance(e, OSError) else None) or str(e)
