"""Output of the commands that print a contract (JSON, CSV, text) for other programs to read,
and `ContractCommand`, the frame of such a command."""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TextIO

from django.core.management.base import BaseCommand, CommandError, CommandParser, OutputWrapper

from identities.models import Account
from identities.queries.access import current_run
from identities.queries.exports import SafeCsvWriter

logger = logging.getLogger(__name__)


@contextmanager
def stop_quietly_when_reader_closes(stdout: OutputWrapper | TextIO) -> Iterator[None]:
    """Run a command's printing for a reader that may stop early (`| head -1`).

    Python ignores SIGPIPE, so a write after the reader has gone raises `BrokenPipeError` (a
    traceback), and again when the interpreter flushes stdout at exit. Here the output is
    flushed before leaving, and a closed pipe ends the process without a word, with the status
    of a Unix filter stopped the same way: 128 + SIGPIPE (141).
    https://docs.python.org/3/library/signal.html#note-on-sigpipe
    """
    try:
        yield
        stdout.flush()
    except BrokenPipeError:
        # Whatever is still buffered goes to /dev/null, so the flush at exit cannot fail too.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        raise SystemExit(128 + signal.SIGPIPE) from None


def write_json_array(stdout: OutputWrapper | TextIO, rows: Iterable[Any]) -> None:
    """Print ``rows`` as a JSON array, one compact object a line, as they come (no list in
    memory): ``[`` then ``\\n  {…},`` lines, then ``\\n]``; ``[]`` when there are none."""
    stdout.write("[", ending="")  # type: ignore[call-arg]
    first = True
    for row in rows:
        stdout.write(("\n  " if first else ",\n  ") + json.dumps(row), ending="")  # type: ignore[call-arg]
        first = False
    stdout.write("\n]" if not first else "]")


def write_rows(
    stdout: OutputWrapper | TextIO,
    rows: Iterable[dict[str, Any]],
    format: str,
    columns: Sequence[str],
) -> None:
    """Print ``rows`` as `write_json_array` does, or as CSV with these columns: a list (or a
    dict's values) joined with ' | ', a boolean as true/false, None as an empty cell."""
    if format == "json":
        write_json_array(stdout, rows)
        return
    writer = SafeCsvWriter(stdout, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_csv_cell(row[name]) for name in columns])


def _csv_cell(value: Any) -> str:
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list | tuple):
        return " | ".join(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


class ContractCommand(BaseCommand):
    """A command that prints a contract: `--format` (one of `formats`, the first by default),
    then the options `add_options` adds; its docstring is its help. `output()` returns either one JSON document (printed
    indented) or rows (printed by `write_rows` with `columns`); a reader that stops early ends
    the command quietly (`stop_quietly_when_reader_closes`). Errors are `CommandError`s."""

    formats: Sequence[str] = ("json",)
    columns: Sequence[str] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """A command's `--help` text is its docstring, on one line."""
        super().__init_subclass__(**kwargs)
        if cls.__doc__:
            cls.help = " ".join(cls.__doc__.split())

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--format", choices=list(self.formats), default=self.formats[0])
        self.add_options(parser)

    def add_options(self, parser: CommandParser) -> None:
        """The command's own options (none by default)."""

    def output(self, *args: Any, **options: Any) -> dict[str, Any] | Iterable[dict[str, Any]]:
        """What the command prints, from its parsed options."""
        raise NotImplementedError

    def handle(self, *args: Any, format: str, **options: Any) -> None:
        output = self.output(*args, **options)
        with stop_quietly_when_reader_closes(self.stdout):
            if isinstance(output, dict):
                self.stdout.write(json.dumps(output, indent=2))
            else:
                write_rows(self.stdout, output, format, self.columns)

    def require_account(self, account: str | None) -> None:
        """Refuse an `--account` that no sync has seen."""
        if account is not None and not Account.objects.filter(account_id=account).exists():
            raise CommandError(f"no synced account {account}")

    def warn_without_analysis(self) -> None:
        """Say on stderr that the stored rows are empty because no analysis has run."""
        if current_run() is None:
            self.stderr.write("warning: no analysis has run yet; run `manage.py analyse`")
