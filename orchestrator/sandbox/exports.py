"""Export jobs: validation of a create request, the job lifecycle, and streamed CSV results.

A job's state is a function of the sandbox clock: ``Waiting`` until ``processing_after_s``,
``Processing`` until ``complete_after_s``, then ``Complete``; its data expires
``expires_after_days`` after completion. Only a cancel is stored. Results are read from the
sandbox tables when downloaded, bounded above by the job's creation time (open-ended ranges stop
there), so a job's files do not change between downloads. CSV files are produced in chunks of
rows, so a million-row export never sits in memory.
"""

from __future__ import annotations

import csv
import io
import json
import math
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from orchestrator.sandbox.config import ExportConfig
from orchestrator.sandbox.dates import add_years, format_wire, parse_export_date, parse_instant
from orchestrator.sandbox.export_specs import MAX_FIELDS, OBJECTS, ArgSpec, ObjectSpec
from orchestrator.sandbox.store import Store
from orchestrator.sandbox.wire import refuse

STATES: tuple[str, ...] = ("Waiting", "Processing", "Complete", "Failed", "Canceled")
_SORT_COLUMNS = {"id": "id", "created_at": "created_at", "updated_at": "updated_at"}
_CHUNK_ROWS = 5_000
_FORMULA_PREFIXES = ("=", "+", "@")


@dataclass(frozen=True)
class ExportRequest:
    """A validated create request: the object, procedure, argument values and fields."""

    object: str
    procedure: str
    arguments: Mapping[str, Any]
    fields: tuple[str, ...]


@dataclass(frozen=True)
class Job:
    """An export job as seen at one instant of the sandbox clock."""

    id: int
    object: str
    state: str
    is_expired: bool
    created_at: datetime
    updated_at: datetime
    file_count: int
    version: int


def parse_create_body(content_type: str, body: bytes, now: datetime) -> ExportRequest:
    """Validate a create request (errors 150-154, 174-177, 180) and return it."""
    if content_type.split(";")[0].strip().lower() != "application/json":
        raise refuse(151, content_type or "none")
    if not body.strip():
        raise refuse(152)
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise refuse(150) from None
    if not isinstance(data, dict):
        raise refuse(154, "the body must be a JSON object")
    procedure = data.get("procedure")
    if "object" not in data or not isinstance(procedure, dict) or "name" not in procedure:
        raise refuse(153, "object, procedure.name")
    spec = OBJECTS.get(str(data["object"]))
    if spec is None:
        raise refuse(154, f"object {data['object']!r}")
    arg_specs = spec.procedures.get(str(procedure["name"]))
    if arg_specs is None:
        raise refuse(174, str(procedure["name"]))
    arguments = procedure.get("arguments", {})
    if not isinstance(arguments, dict):
        raise refuse(154, "procedure.arguments must be an object")
    _check_arguments(arg_specs, arguments, now)
    return ExportRequest(
        object=str(data["object"]),
        procedure=str(procedure["name"]),
        arguments=arguments,
        fields=_check_fields(spec, data.get("fields")),
    )


def _check_arguments(specs: Mapping[str, ArgSpec], arguments: Mapping[str, Any], now: datetime) -> None:
    for name in arguments:
        if name not in specs:
            raise refuse(175, name)
    for name, spec in specs.items():
        if spec.required and name not in arguments:
            raise refuse(176, name)
    after: datetime | None = None
    before: datetime | None = None
    for name, value in arguments.items():
        spec = specs[name]
        if spec.kind in ("after", "before"):
            moment = _date_argument(name, value, now)
            if spec.kind == "after":
                after = moment
            else:
                before = moment
        elif spec.kind == "deleted":
            _deleted_value(name, value)
        elif spec.kind == "boolean":
            _boolean_value(name, value)
        else:
            _types_value(name, value)
    if after is not None:
        upper = before if before is not None else now
        if before is not None and before <= after:
            raise refuse(177, "the *_before value must be after the *_after value")
        if upper > add_years(after, 1):
            raise refuse(177, "the range cannot exceed 1 year")


def _date_argument(name: str, value: Any, now: datetime) -> datetime:
    if not isinstance(value, str):
        raise refuse(177, name)
    try:
        return parse_export_date(value, now)
    except ValueError:
        raise refuse(177, f"{name}: {value!r}") from None


def _deleted_value(name: str, value: Any) -> bool | None:
    """``true`` -> only deleted, ``false`` -> only live, ``all`` -> both (None)."""
    text = str(value).lower()
    if text == "all":
        return None
    if text in ("true", "false"):
        return text == "true"
    raise refuse(177, f"{name} must be true, false or all")


def _boolean_value(name: str, value: Any) -> bool:
    text = str(value).lower()
    if text in ("true", "false"):
        return text == "true"
    raise refuse(177, f"{name} must be true or false")


def _types_value(name: str, value: Any) -> tuple[int, ...]:
    items = value if isinstance(value, list) else str(value).split(",")
    try:
        return tuple(int(str(item).strip()) for item in items)
    except ValueError:
        raise refuse(177, f"{name} must be activity type numbers") from None


def _check_fields(spec: ObjectSpec, fields: Any) -> tuple[str, ...]:
    if fields is None:
        return tuple(spec.fields)
    if not isinstance(fields, list) or not fields:
        raise refuse(180, "fields must be a non-empty array of field names")
    if len(fields) > MAX_FIELDS:
        raise refuse(180, f"at most {MAX_FIELDS} fields")
    unknown = [f for f in fields if not isinstance(f, str) or f not in spec.fields]
    if unknown:
        raise refuse(180, ", ".join(map(str, unknown)))
    if len(set(fields)) != len(fields):
        raise refuse(180, "duplicate fields")
    return tuple(fields)


def create_job(store: Store, request: ExportRequest, version: int, now: datetime) -> int:
    """Record a new job; it starts ``Waiting`` at ``now``."""
    with store.transaction() as conn:
        cursor = conn.execute(
            "INSERT INTO exports (object, procedure, arguments, fields, version, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (
                request.object, request.procedure, json.dumps(dict(request.arguments)),
                json.dumps(list(request.fields)), version, format_wire(now),
            ),
        )
    return int(cursor.lastrowid or 0)


def job_row(conn: sqlite3.Connection, raw_id: str) -> sqlite3.Row:
    """The stored job ``raw_id``; error 109 when there is none."""
    try:
        job_id = int(raw_id)
    except ValueError:
        raise refuse(109, raw_id) from None
    row: sqlite3.Row | None = conn.execute(
        "SELECT * FROM exports WHERE id = ?", (job_id,)
    ).fetchone()
    if row is None:
        raise refuse(109, f"export {job_id}")
    return row


def observe(store: Store, row: sqlite3.Row, now: datetime, config: ExportConfig) -> Job:
    """The job as it stands at ``now``; counts its rows once, when first seen complete."""
    created = parse_instant(row["created_at"])
    file_count = 0
    if row["canceled_at"] is not None:
        state, updated, expired = "Canceled", parse_instant(row["canceled_at"]), False
    else:
        age = (now - created).total_seconds()
        completed = created + timedelta(seconds=config.complete_after_s)
        if age < config.processing_after_s:
            state, updated, expired = "Waiting", created, False
        elif age < config.complete_after_s:
            state = "Processing"
            updated = created + timedelta(seconds=config.processing_after_s)
            expired = False
        else:
            state, updated = "Complete", completed
            expired = now >= completed + timedelta(days=config.expires_after_days)
            if not expired:
                file_count = math.ceil(_row_count(store, row) / config.rows_per_file)
    return Job(
        id=int(row["id"]), object=str(row["object"]), state=state, is_expired=expired,
        created_at=created, updated_at=updated, file_count=file_count,
        version=int(row["version"]),
    )


def cancel_job(store: Store, row: sqlite3.Row, now: datetime, config: ExportConfig) -> None:
    """Cancel a waiting or processing job; any other state is error 178."""
    job = observe(store, row, now, config)
    if job.state not in ("Waiting", "Processing"):
        raise refuse(178, f"export {job.id} is {job.state}")
    with store.transaction() as conn:
        conn.execute(
            "UPDATE exports SET canceled_at = ? WHERE id = ?", (format_wire(now), job.id)
        )


def job_body(job: Job, base_url: str, *, with_refs: bool = True) -> dict[str, Any]:
    """The ``export`` object: resultRefs a string for one file, an array for several."""
    body: dict[str, Any] = {
        "id": job.id,
        "state": job.state,
        "isExpired": job.is_expired,
        "createdAt": format_wire(job.created_at),
        "updatedAt": format_wire(job.updated_at),
    }
    if with_refs and job.file_count:
        refs = [
            f"{base_url}/api/export/version/{job.version}/do/downloadResults/id/{job.id}/file/{n}"
            for n in range(1, job.file_count + 1)
        ]
        body["resultRefs"] = refs[0] if len(refs) == 1 else refs
    return body


def query_jobs(
    store: Store, filters: Mapping[str, str], now: datetime, config: ExportConfig
) -> list[Job]:
    """Jobs matching the query endpoint's filters, sorted (default: id, descending)."""
    bounds = {}
    for name in ("created_after", "created_before", "updated_after", "updated_before"):
        if name in filters:
            try:
                bounds[name] = parse_export_date(filters[name], now)
            except ValueError:
                raise refuse(177, f"{name}: {filters[name]!r}") from None
    status = filters.get("status")
    if status is not None and status not in STATES:
        raise refuse(177, f"status {status!r}")
    wanted_object = filters.get("object")
    if wanted_object is not None and wanted_object not in OBJECTS:
        raise refuse(177, f"object {wanted_object!r}")
    sort_by = filters.get("sort_by", "id")
    sort_order = filters.get("sort_order", "descending")
    if sort_by not in _SORT_COLUMNS or sort_order not in ("ascending", "descending"):
        raise refuse(177, "sort_by must be id|created_at|updated_at, sort_order ascending|descending")
    with store.reading() as conn:
        rows = conn.execute("SELECT * FROM exports ORDER BY id").fetchall()
    jobs = [observe(store, row, now, config) for row in rows]
    jobs = [
        j for j in jobs
        if (status is None or j.state == status)
        and (wanted_object is None or j.object == wanted_object)
        and _within(j.created_at, bounds.get("created_after"), bounds.get("created_before"))
        and _within(j.updated_at, bounds.get("updated_after"), bounds.get("updated_before"))
    ]
    keys = {"id": lambda j: (j.id,), "created_at": lambda j: (j.created_at, j.id),
            "updated_at": lambda j: (j.updated_at, j.id)}
    return sorted(jobs, key=keys[sort_by], reverse=sort_order == "descending")


def _within(moment: datetime, after: datetime | None, before: datetime | None) -> bool:
    return (after is None or moment > after) and (before is None or moment < before)


@dataclass(frozen=True)
class _Selection:
    """The SQL (without ORDER/LIMIT) that selects a job's rows, and its parameters."""

    spec: ObjectSpec
    fields: tuple[str, ...]
    where: str
    params: tuple[Any, ...]


def _selection(row: sqlite3.Row) -> _Selection:
    spec = OBJECTS[row["object"]]
    arg_specs = spec.procedures[row["procedure"]]
    arguments: dict[str, Any] = json.loads(row["arguments"])
    created = parse_instant(row["created_at"])
    clauses: list[str] = []
    params: list[Any] = []
    has_before = any(arg_specs[name].kind == "before" for name in arguments)
    for name, value in arguments.items():
        arg = arg_specs[name]
        if arg.kind in ("after", "before"):
            op = ">" if arg.kind == "after" else "<"
            clauses.append(f"{arg.column} {op} ?")
            params.append(format_wire(parse_export_date(value, created)))
        elif arg.kind == "deleted":
            choice = _deleted_value(name, value)
            if choice is not None:
                clauses.append(f"{arg.column} = ?")
                params.append(int(choice))
        elif arg.kind == "boolean":
            if _boolean_value(name, value):
                clauses.append(f"{arg.column} IS NOT NULL")
        else:
            types = _types_value(name, value)
            clauses.append(f"{arg.column} IN ({','.join('?' * len(types))})")
            params.extend(types)
    if not has_before:
        after_column = next(a.column for a in arg_specs.values() if a.kind == "after")
        clauses.append(f"{after_column} < ?")
        params.append(format_wire(created))
    deleted_args = [a for a in arg_specs.values() if a.kind == "deleted"]
    if deleted_args and not any(arg_specs[n].kind == "deleted" for n in arguments):
        clauses.append(f"{deleted_args[0].column} = 0")
    return _Selection(
        spec=spec,
        fields=tuple(json.loads(row["fields"])),
        where=" AND ".join(clauses) or "1",
        params=tuple(params),
    )


def _row_count(store: Store, row: sqlite3.Row) -> int:
    if row["row_count"] is not None:
        return int(row["row_count"])
    sel = _selection(row)
    with store.transaction() as conn:
        (count,) = conn.execute(
            f"SELECT count(*) FROM {sel.spec.source} WHERE {sel.where}", sel.params  # noqa: S608
        ).fetchone()
        conn.execute("UPDATE exports SET row_count = ? WHERE id = ?", (count, row["id"]))
    return int(count)


def check_download(job: Job, file_number: str) -> int:
    """The 1-based file index to stream; 178 when not downloadable, 109 when no such file."""
    if job.state != "Complete" or job.is_expired:
        state = "expired" if job.is_expired else job.state
        raise refuse(178, f"export {job.id} is {state}")
    try:
        index = int(file_number)
    except ValueError:
        raise refuse(109, f"file {file_number}") from None
    if not 1 <= index <= job.file_count:
        raise refuse(109, f"file {index}")
    return index


def stream_csv(
    store: Store, row: sqlite3.Row, index: int, config: ExportConfig
) -> Iterator[bytes]:
    """Yield file ``index`` of a job as CSV bytes, a few thousand rows at a time.

    Rows are read by id ranges (keyset), each chunk under the store lock, so neither memory nor
    the lock is held for the whole file.
    """
    sel = _selection(row)
    columns = ", ".join(f"{sel.spec.fields[name]}" for name in sel.fields)
    source, where = sel.spec.source, sel.where
    yield _csv_lines([sel.fields])
    with store.reading() as conn:
        first = conn.execute(
            f"SELECT id FROM {source} WHERE {where} ORDER BY id LIMIT 1 OFFSET ?",  # noqa: S608
            (*sel.params, (index - 1) * config.rows_per_file),
        ).fetchone()
    if first is None:
        return
    remaining, last_id, op = config.rows_per_file, int(first[0]), ">="
    while remaining > 0:
        with store.reading() as conn:
            chunk = conn.execute(
                f"SELECT id, {columns} FROM {source} WHERE {where} AND id {op} ?"  # noqa: S608
                " ORDER BY id LIMIT ?",
                (*sel.params, last_id, min(remaining, _CHUNK_ROWS)),
            ).fetchall()
        if not chunk:
            return
        remaining -= len(chunk)
        last_id, op = int(chunk[-1][0]), ">"
        yield _csv_lines([tuple(r)[1:] for r in chunk])


def _csv_lines(rows: Sequence[Sequence[Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerows([_csv_value(v) for v in r] for r in rows)
    return buffer.getvalue().encode("utf-8")


def _csv_value(value: Any) -> str:
    """Nulls are empty; text that a spreadsheet would run as a formula gets a backslash."""
    if value is None:
        return ""
    text = str(value)
    return "\\" + text if text.startswith(_FORMULA_PREFIXES) else text
