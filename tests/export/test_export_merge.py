"""Merging export files: one header, every row once, whatever the chunking."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestrator.errors import ExportError
from orchestrator.export.merge import CsvSource, SqliteKeySet, iter_csv_rows, merge_csv


def _source(label: str, data: bytes, chunk: int = 7) -> CsvSource:
    @contextmanager
    def opener() -> Iterator[Iterator[bytes]]:
        yield (data[i : i + chunk] for i in range(0, len(data), chunk))

    return CsvSource(label, opener)


def _merge(*files: bytes, dedupe_on: str | None = None, chunk: int = 7) -> tuple[str, object]:
    out = io.StringIO(newline="")
    sources = [_source(f"file {n}", data, chunk) for n, data in enumerate(files, start=1)]
    result = merge_csv(sources, out, dedupe_on=dedupe_on)
    return out.getvalue(), result


def test_one_header_and_all_rows_in_file_order() -> None:
    text, result = _merge(b"id,email\n1,a@x\n2,b@x\n", b"id,email\n3,c@x\n")
    assert text == "id,email\n1,a@x\n2,b@x\n3,c@x\n"
    assert (result.rows, result.files, result.duplicates) == (3, 2, 0)  # type: ignore[attr-defined]
    assert result.header == ("id", "email")  # type: ignore[attr-defined]


def test_quoted_commas_newlines_and_quotes_survive() -> None:
    data = 'id,notes\r\n1,"a, b"\r\n2,"line one\nline two"\r\n3,"say ""hi"""\r\n4,\\=SUM(A1)\r\n'
    text, result = _merge(data.encode(), chunk=3)
    assert list(csv.reader(io.StringIO(text))) == [
        ["id", "notes"], ["1", "a, b"], ["2", "line one\nline two"], ["3", 'say "hi"'],
        ["4", "\\=SUM(A1)"],
    ]
    assert result.rows == 4  # type: ignore[attr-defined]


def test_bom_is_dropped_and_utf8_split_across_chunks_is_kept() -> None:
    data = "\ufeffid,name\n1,Zoë Ålander\n2,日本\n".encode()
    text, _ = _merge(data, chunk=1)
    assert text == "id,name\n1,Zoë Ålander\n2,日本\n"


def test_mismatched_header_is_an_error_naming_the_file() -> None:
    with pytest.raises(ExportError, match=r"file 2: header 'id,mail' differs .* 'id,email'"):
        _merge(b"id,email\n1,a\n", b"id,mail\n2,b\n")


def test_empty_files_and_header_only_files() -> None:
    text, result = _merge(b"", b"id,email\n", b"id,email\n1,a\n", b"")
    assert text == "id,email\n1,a\n"
    assert (result.rows, result.files) == (1, 4)  # type: ignore[attr-defined]


def test_no_files_write_nothing() -> None:
    text, result = _merge()
    assert text == ""
    assert (result.rows, result.files, result.header) == (0, 0, None)  # type: ignore[attr-defined]


def test_blank_lines_are_not_records() -> None:
    text, result = _merge(b"id\n1\n\n2\n")
    assert (text, result.rows) == ("id\n1\n2\n", 2)  # type: ignore[attr-defined]


def test_a_ragged_record_means_a_truncated_file() -> None:
    with pytest.raises(ExportError, match="file 1: record 3 has 1 values, the header has 2"):
        _merge(b"id,email\n1,a\n2")


def test_non_utf8_is_an_export_error() -> None:
    with pytest.raises(ExportError, match="file 1: not UTF-8"):
        _merge(b"id,name\n1,\xff\xfe\n")


def test_dedupe_keeps_the_first_row_per_id() -> None:
    text, result = _merge(b"id,v\n1,a\n2,b\n", b"id,v\n2,B\n3,c\n1,A\n", dedupe_on="id")
    assert text == "id,v\n1,a\n2,b\n3,c\n"
    assert (result.rows, result.duplicates, result.deduplicated_on) == (3, 2, "id")  # type: ignore[attr-defined]


def test_dedupe_is_skipped_when_the_column_is_absent() -> None:
    text, result = _merge(b"email\na\n", b"email\na\n", dedupe_on="id")
    assert text == "email\na\na\n"
    assert result.deduplicated_on is None  # type: ignore[attr-defined]


def test_without_dedupe_repeated_ids_are_kept() -> None:
    text, _ = _merge(b"id\n1\n", b"id\n1\n")
    assert text == "id\n1\n1\n"


def test_sources_are_opened_one_at_a_time_and_closed() -> None:
    events: list[str] = []

    def tracked(label: str, data: bytes) -> CsvSource:
        @contextmanager
        def opener() -> Iterator[Iterator[bytes]]:
            events.append(f"open {label}")
            yield iter([data])
            events.append(f"close {label}")

        return CsvSource(label, opener)

    merge_csv([tracked("a", b"id\n1\n"), tracked("b", b"id\n2\n")], io.StringIO())
    assert events == ["open a", "close a", "open b", "close b"]


def test_key_set_says_whether_a_key_is_new() -> None:
    keys = SqliteKeySet()
    try:
        assert [keys.add(k) for k in ["1", "2", "1", "", ""]] == [True, True, False, True, False]
    finally:
        keys.close()


cells = st.text(alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00\r"),
                max_size=8)


@given(
    header=st.lists(st.from_regex(r"[a-z]{1,6}", fullmatch=True), min_size=1, max_size=4,
                    unique=True),
    files=st.lists(st.lists(st.lists(cells, min_size=4, max_size=4), max_size=6), max_size=4),
    chunk=st.integers(min_value=1, max_value=50),
)
def test_merge_equals_concatenation_whatever_the_chunking(
    header: list[str], files: list[list[list[str]]], chunk: int
) -> None:
    width = len(header)
    encoded = []
    expected = [header]
    for rows in files:
        buffer = io.StringIO(newline="")
        writer = csv.writer(buffer, quoting=csv.QUOTE_ALL)
        writer.writerow(header)
        for row in rows:
            writer.writerow(row[:width])
            expected.append(row[:width])
        encoded.append(buffer.getvalue().encode())
    text, result = _merge(*encoded, chunk=chunk)
    got = list(csv.reader(io.StringIO(text, newline="")))
    expected_rows = expected[1:]
    if files:
        assert got == [header, *expected_rows]
    assert result.rows == len(expected_rows)  # type: ignore[attr-defined]


def test_iter_csv_rows_reads_lazily() -> None:
    pulled: list[int] = []

    def chunks() -> Iterator[bytes]:
        for n in range(1_000_000):
            pulled.append(n)
            yield f"{n}\n".encode()

    rows = iter_csv_rows(chunks())
    assert next(rows) == ["0"]
    assert len(pulled) < 100_000  # one read buffer's worth, not the whole stream


def test_a_huge_line_without_a_newline_is_refused_after_the_limit() -> None:
    """Reproduction (issue 10): one 400 MB line without a newline cost 937 MB of memory.

    The source offers 64 MiB in one line, lazily; the merge must stop after about
    MAX_LINE_CHARS (4 Mi characters), not read (and hold) the whole line.
    """
    from orchestrator.export.merge import MAX_LINE_CHARS

    offered = 64 * 1024 * 1024
    chunk = b"a" * (256 * 1024)
    consumed = 0

    @contextmanager
    def opener() -> Iterator[Iterator[bytes]]:
        def chunks() -> Iterator[bytes]:
            nonlocal consumed
            yield b"id,notes\n1,"
            while consumed < offered:
                consumed += len(chunk)
                yield chunk

        yield chunks()

    with pytest.raises(ExportError, match=r"big\.csv: line 2 is longer than 4,194,304 characters"):
        merge_csv([CsvSource("big.csv", opener)], io.StringIO(newline=""))
    assert consumed <= MAX_LINE_CHARS + 2 * 1024 * 1024


def test_lines_up_to_the_limit_are_merged() -> None:
    from orchestrator.export.merge import MAX_LINE_CHARS

    # 40 cells of 100,000 characters (each under csv's own 131,072-character cell limit).
    header = ",".join(f"c{n}" for n in range(40))
    line = ",".join(["x" * 100_000] * 40)
    assert len(line) < MAX_LINE_CHARS
    data = f"{header}\r\n{line}\r\n{line}\r\n".encode()
    text, result = _merge(data, chunk=1 << 20)
    assert result.rows == 2  # type: ignore[attr-defined]
    assert text.endswith(line + "\n")


def test_the_limit_is_per_physical_line_not_per_quoted_field() -> None:
    from orchestrator.export.merge import LineTooLong

    lines = "\n".join(["y" * 1000] * 50)
    data = f'id,notes\n1,"{lines}"\n'.encode()
    rows = list(iter_csv_rows(iter([data]), max_line_chars=2000))
    assert rows[1] == ["1", lines]
    with pytest.raises(LineTooLong):
        list(iter_csv_rows(iter([data]), max_line_chars=999))


def test_formula_like_cells_are_written_unchanged() -> None:
    """Documented (README, Exports): cells starting with = + - @ are copied as they are."""
    data = b"id,notes\n1,=HYPERLINK(\"x\")\n2,+1\n3,-1\n4,@SUM(A1)\n"
    text, _ = _merge(data)
    assert [row[1] for row in csv.reader(io.StringIO(text))][1:] == ['=HYPERLINK("x")', "+1", "-1", "@SUM(A1)"]
