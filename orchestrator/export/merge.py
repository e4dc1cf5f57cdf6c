"""Merging an export's CSV files into one CSV with one header row, in constant memory.

An export's data arrives as several CSV files (``resultRefs``), each with its own header row.
:func:`merge_csv` opens them one at a time, reads each as a stream of byte chunks (never a
whole file), parses it with the ``csv`` module over a text wrapper, checks that every file has
the same header, and writes the rows to one text sink.  Memory stays flat however large the
export: one chunk, one buffered reader and one row at a time; a line longer than
:data:`MAX_LINE_CHARS` is refused rather than buffered. Cells are copied unchanged: one
starting with ``=``, ``+``, ``-`` or ``@`` stays so (a spreadsheet may run it as a formula).

Deduplication (for ``--split``, where windows may overlap) keys rows by a column, ``id`` by
default.  The keys seen go to a private on-disk SQLite table rather than a Python set, so a
hundred-million-row export does not need gigabytes of RAM; the first row with a given key wins.
"""

from __future__ import annotations

import csv
import io
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, closing
from dataclasses import dataclass
from typing import Protocol, TextIO

from orchestrator.errors import ExportError

#: Bytes handed to the csv parser per read; large enough to amortise, small enough to ignore.
READ_BUFFER_BYTES = 256 * 1024

#: Longest physical line accepted in an export file, in characters. A Pardot row is at most
#: 150 fields; 4 Mi characters is far beyond a real one, while a hostile or broken file with
#: one huge line and no newline is refused after reading that much (not the whole file: a
#: 400 MB line used to cost 937 MB of memory).
MAX_LINE_CHARS = 4 * 1024 * 1024

ChunkStream = AbstractContextManager[Iterator[bytes]]


@dataclass(frozen=True)
class CsvSource:
    """One CSV file to merge: a label for messages and a way to open its byte stream lazily."""

    label: str
    open: Callable[[], ChunkStream]


@dataclass(frozen=True)
class MergeResult:
    """What a merge wrote: data rows, files read, rows dropped as duplicates, and the header."""

    rows: int
    files: int
    duplicates: int
    header: tuple[str, ...] | None
    deduplicated_on: str | None


class KeySet(Protocol):
    """Remembers keys; ``add`` says whether the key was new."""

    def add(self, key: str) -> bool: ...


class SqliteKeySet:
    """A set of strings kept in a private temporary SQLite database, spilled to disk.

    SQLite deletes the file when the connection closes; the page cache is capped so memory
    stays bounded whatever the number of keys.
    """

    def __init__(self, cache_kib: int = 8 * 1024) -> None:
        self._db = sqlite3.connect("")  # "" = private temporary on-disk database
        self._db.execute(f"PRAGMA cache_size = -{int(cache_kib)}")
        self._db.execute("PRAGMA journal_mode = OFF")
        self._db.execute("PRAGMA synchronous = OFF")
        self._db.execute("CREATE TABLE seen (key TEXT PRIMARY KEY) WITHOUT ROWID")

    def add(self, key: str) -> bool:
        cursor = self._db.execute("INSERT OR IGNORE INTO seen (key) VALUES (?)", (key,))
        return cursor.rowcount == 1

    def close(self) -> None:
        self._db.close()


class _ChunkReader(io.RawIOBase):
    """A readable raw stream over an iterator of byte chunks, so io/csv can read it lazily."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        super().__init__()
        self._chunks = chunks
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._pending = memoryview(chunk)
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


class LineTooLong(Exception):
    """A physical line of a CSV file went past the line limit (it was not read further)."""

    def __init__(self, line: int, limit: int) -> None:
        super().__init__(f"line {line} is longer than {limit:,} characters")
        self.line = line
        self.limit = limit


def _bounded_lines(text: io.TextIOWrapper, limit: int) -> Iterator[str]:
    """The lines of ``text``, each read at most ``limit`` characters (+ its line break) deep."""
    number = 0
    while line := text.readline(limit + 1):
        number += 1
        if len(line) > limit and line[-1] not in "\r\n":
            raise LineTooLong(number, limit)
        yield line


def iter_csv_rows(chunks: Iterator[bytes], *, max_line_chars: int = MAX_LINE_CHARS) -> Iterator[list[str]]:
    """Parse a CSV byte stream row by row; a leading BOM (UI-made exports) is dropped.

    Raises :class:`LineTooLong` on a line longer than ``max_line_chars`` characters, so memory
    stays bounded whatever the file holds.
    """
    text = io.TextIOWrapper(
        io.BufferedReader(_ChunkReader(chunks), READ_BUFFER_BYTES),
        encoding="utf-8-sig",
        newline="",
    )
    yield from csv.reader(_bounded_lines(text, max_line_chars))


def merge_csv(
    sources: Iterable[CsvSource],
    out: TextIO,
    *,
    dedupe_on: str | None = None,
    keys: KeySet | None = None,
) -> MergeResult:
    """Write every source's rows to ``out`` under one header; return the counts.

    ``out`` must be opened with ``newline=""``.  Files must share one header, else
    ExportError; an empty file (no header) contributes nothing.  With ``dedupe_on``, a row
    whose value in that column was already written is dropped (only when the header has that
    column).  ``keys`` defaults to a :class:`SqliteKeySet` made and closed here.
    """
    if dedupe_on is not None and keys is None:
        with closing(SqliteKeySet()) as owned:
            return merge_csv(sources, out, dedupe_on=dedupe_on, keys=owned)
    writer = csv.writer(out, lineterminator="\n")
    merger = _Merger(writer, dedupe_on, keys)
    for source in sources:
        merger.add_file(source)
    return merger.result()


class _Merger:
    """The running state of one merge: header, counts, and the dedupe column's index."""

    def __init__(self, writer: _CsvWriter, dedupe_on: str | None, keys: KeySet | None) -> None:
        self._writer = writer
        self._dedupe_on = dedupe_on
        self._keys = keys
        self._header: tuple[str, ...] | None = None
        self._key_index: int | None = None
        self._rows = 0
        self._files = 0
        self._duplicates = 0

    def add_file(self, source: CsvSource) -> None:
        self._files += 1
        try:
            with source.open() as chunks:
                self._copy_rows(source.label, iter_csv_rows(chunks))
        except UnicodeDecodeError as exc:
            raise ExportError(f"{source.label}: not UTF-8 text ({exc.reason})") from exc
        except csv.Error as exc:
            raise ExportError(f"{source.label}: unreadable CSV ({exc})") from exc
        except LineTooLong as exc:
            raise ExportError(
                f"{source.label}: {exc} (the limit for one line of an export file); the file is "
                "not a CSV export this tool can merge"
            ) from exc

    def _copy_rows(self, label: str, rows: Iterator[list[str]]) -> None:
        header = next(rows, None)
        if header is None:
            return  # an empty file: no header, no rows
        self._accept_header(label, tuple(header))
        width = len(header)
        for line, row in enumerate(rows, start=2):
            if not row:
                continue  # a blank line carries no record
            if len(row) != width:
                raise ExportError(
                    f"{label}: record {line} has {len(row)} values, the header has {width}; "
                    "the file may be truncated: download it again"
                )
            if self._is_duplicate(row):
                self._duplicates += 1
                continue
            self._writer.writerow(row)
            self._rows += 1

    def _accept_header(self, label: str, header: tuple[str, ...]) -> None:
        if self._header is None:
            self._header = header
            self._writer.writerow(header)
            if self._dedupe_on is not None and self._dedupe_on in header:
                self._key_index = header.index(self._dedupe_on)
        elif header != self._header:
            raise ExportError(
                f"{label}: header {','.join(header)!r} differs from the first file's "
                f"{','.join(self._header)!r}; the files cannot be merged into one CSV"
            )

    def _is_duplicate(self, row: list[str]) -> bool:
        if self._key_index is None or self._keys is None:
            return False
        return not self._keys.add(row[self._key_index])

    def result(self) -> MergeResult:
        return MergeResult(
            rows=self._rows,
            files=self._files,
            duplicates=self._duplicates,
            header=self._header,
            deduplicated_on=self._dedupe_on if self._key_index is not None else None,
        )


class _CsvWriter(Protocol):
    def writerow(self, row: Iterable[str], /) -> object: ...
