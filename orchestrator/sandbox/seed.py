"""The sandbox's seed: the accounts, lists, templates and prospects it starts with.

A seed is a safe-YAML file (or an equivalent mapping). It is validated with a JSON schema so that
a typo in a hand-written seed is reported with its location instead of surfacing later as an odd
API answer. ``generate_prospects`` describes large, deterministic data sets that are produced
lazily (a generator), so a million prospects never sit in memory at once.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from orchestrator.digest import digest
from orchestrator.errors import display_path
from orchestrator.sandbox.dates import WIRE_FORMAT, parse_instant
from orchestrator.sandbox.errors import SandboxSeedError

_ID = {"type": "integer", "minimum": 1}
_SHARE = {"type": "number", "minimum": 0, "maximum": 1}
_STR = {"type": "string"}
#: Campaigns and lists are both `{id, name}` records.
_NAMED_ITEMS = {
    "type": "array",
    "items": {
        "type": "object",
        "additionalProperties": False,
        "required": ["id", "name"],
        "properties": {"id": _ID, "name": _STR},
    },
}
_BOOL = {"type": "boolean"}

SEED_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "operational_email_enabled": _BOOL,
        "reference_time": _STR,
        "campaigns": _NAMED_ITEMS,
        "users": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["id", "email"],
                "properties": {
                    "id": _ID,
                    "email": _STR,
                    "first_name": _STR,
                    "last_name": _STR,
                },
            },
        },
        "lists": _NAMED_ITEMS,
        "templates": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["id", "name", "subject"],
                "properties": {
                    "id": _ID,
                    "name": _STR,
                    "subject": _STR,
                    "html": _STR,
                    "text": _STR,
                    "is_list_email": _BOOL,
                    "is_one_to_one_email": _BOOL,
                    "is_drip_email": _BOOL,
                    "is_autoresponder_email": _BOOL,
                    "archived": _BOOL,
                    "reply_to_address": _STR,
                    "send_from": {"type": "array", "items": {"type": "object"}},
                },
            },
        },
        "prospects": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["id", "email"],
                "properties": {
                    "id": _ID,
                    "email": _STR,
                    "first_name": _STR,
                    "last_name": _STR,
                    "company": _STR,
                    "opted_out": _BOOL,
                    "deleted": _BOOL,
                    "lists": {"type": "array", "items": _ID},
                },
            },
        },
        "generate_prospects": {
            "type": "object",
            "additionalProperties": False,
            "required": ["count"],
            "properties": {
                "count": {"type": "integer", "minimum": 0, "maximum": 10_000_000},
                "lists": {"type": "object", "additionalProperties": _SHARE},
                "opted_out": _SHARE,
                "seed": {"type": "integer"},
                "start_id": _ID,
            },
        },
    },
}

#: Prospects without explicit timestamps are spread over this window before the reference time.
_HISTORY = timedelta(days=90)


@dataclass(frozen=True)
class Template:
    """An email template as the seed describes it."""

    id: int
    name: str
    subject: str
    html: str
    text: str
    is_list_email: bool
    is_one_to_one_email: bool
    is_drip_email: bool
    is_autoresponder_email: bool
    archived: bool
    reply_to_address: str | None
    send_from: tuple[Mapping[str, Any], ...]


@dataclass(frozen=True)
class Prospect:
    """A prospect with its list memberships; timestamps are text in the wire's date format."""

    id: int
    email: str
    first_name: str | None
    last_name: str | None
    company: str | None
    opted_out: bool
    deleted: bool
    lists: tuple[int, ...]


@dataclass(frozen=True)
class GenerateSpec:
    """``generate_prospects``: how many synthetic prospects, on which lists, how many opted out."""

    count: int
    list_shares: tuple[tuple[int, float], ...]
    opted_out: float
    seed: int
    start_id: int


@dataclass(frozen=True)
class Seed:
    """A validated seed. Plain data: the store turns it into tables."""

    operational_email_enabled: bool
    reference_time: datetime | None
    campaigns: tuple[tuple[int, str], ...]
    users: tuple[tuple[int, str, str | None, str | None], ...]
    lists: tuple[tuple[int, str], ...]
    templates: tuple[Template, ...]
    prospects: tuple[Prospect, ...]
    generate: GenerateSpec | None


def demo_seed_path() -> Path:
    """Where the built-in demo seed lives (ids match the example project)."""
    return Path(str(resources.files("orchestrator.sandbox").joinpath("demo_seed.yaml")))


def seed_digest(source: Path | Mapping[str, Any] | None) -> str:
    """The digest of a seed's content (``None``: the built-in demo seed).

    Taken over the parsed data in canonical JSON, so reformatting or a comment changes
    nothing while any changed value does. Stored when a database is seeded, so a seed that
    changed afterwards is noticed (:class:`~orchestrator.sandbox.app.SandboxApp`).
    """
    source = demo_seed_path() if source is None else source
    data = _read_yaml(source) if isinstance(source, Path) else dict(source)
    return digest(data)


def load_seed(source: Path | Mapping[str, Any] | None) -> Seed:
    """Read and validate a seed; ``None`` means the built-in demo seed.

    Raises :class:`~orchestrator.sandbox.errors.SandboxSeedError` naming the file and the offending location.
    """
    if source is None:
        source = demo_seed_path()
    if isinstance(source, Path):
        where = display_path(source)
        data = _read_yaml(source)
    else:
        where = "<seed mapping>"
        data = dict(source)
    _validate(data, where)
    return _build(data, where)


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SandboxSeedError(f"cannot read sandbox seed {display_path(path)}: {exc.strerror}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SandboxSeedError(f"{display_path(path)}: invalid YAML: {exc}") from exc
    return {} if data is None else data


def _validate(data: Any, where: str) -> None:
    validator = jsonschema.Draft202012Validator(SEED_SCHEMA)
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [
            f"{where}::$.{'.'.join(str(p) for p in e.absolute_path)}: {e.message}"
            for e in errors[:10]
        ]
        raise SandboxSeedError("invalid sandbox seed:\n" + "\n".join(lines))


def _build(data: Mapping[str, Any], where: str) -> Seed:
    lists = tuple((int(x["id"]), str(x["name"])) for x in data.get("lists", ()))
    list_ids = {list_id for list_id, _ in lists}
    prospects = tuple(_prospect(p) for p in data.get("prospects", ()))
    for p in prospects:
        unknown = sorted(set(p.lists) - list_ids)
        if unknown:
            raise SandboxSeedError(f"{where}: prospect {p.id} names unknown list(s) {unknown}")
    _check_unique(where, "campaign", [c["id"] for c in data.get("campaigns", ())])
    _check_unique(where, "user", [u["id"] for u in data.get("users", ())])
    _check_unique(where, "list", [list_id for list_id, _ in lists])
    _check_unique(where, "template", [t["id"] for t in data.get("templates", ())])
    _check_unique(where, "prospect", [p.id for p in prospects])
    generate = _generate_spec(data.get("generate_prospects"), list_ids, prospects, where)
    return Seed(
        operational_email_enabled=bool(data.get("operational_email_enabled", True)),
        reference_time=_reference_time(data.get("reference_time"), where),
        campaigns=tuple((int(c["id"]), str(c["name"])) for c in data.get("campaigns", ())),
        users=tuple(
            (int(u["id"]), str(u["email"]), u.get("first_name"), u.get("last_name"))
            for u in data.get("users", ())
        ),
        lists=lists,
        templates=tuple(_template(t) for t in data.get("templates", ())),
        prospects=prospects,
        generate=generate,
    )


def _check_unique(where: str, what: str, ids: list[int]) -> None:
    seen: set[int] = set()
    for item in ids:
        if item in seen:
            raise SandboxSeedError(f"{where}: duplicate {what} id {item}")
        seen.add(item)


def _reference_time(value: str | None, where: str) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_instant(value)
    except ValueError as exc:
        raise SandboxSeedError(f"{where}: reference_time: {exc}") from exc


def _template(t: Mapping[str, Any]) -> Template:
    return Template(
        id=int(t["id"]),
        name=str(t["name"]),
        subject=str(t["subject"]),
        html=str(t.get("html", "")),
        text=str(t.get("text", "")),
        is_list_email=bool(t.get("is_list_email", True)),
        is_one_to_one_email=bool(t.get("is_one_to_one_email", False)),
        is_drip_email=bool(t.get("is_drip_email", False)),
        is_autoresponder_email=bool(t.get("is_autoresponder_email", False)),
        archived=bool(t.get("archived", False)),
        reply_to_address=t.get("reply_to_address"),
        send_from=tuple(dict(x) for x in t.get("send_from", ())),
    )


def _prospect(p: Mapping[str, Any]) -> Prospect:
    return Prospect(
        id=int(p["id"]),
        email=str(p["email"]),
        first_name=p.get("first_name"),
        last_name=p.get("last_name"),
        company=p.get("company"),
        opted_out=bool(p.get("opted_out", False)),
        deleted=bool(p.get("deleted", False)),
        lists=tuple(dict.fromkeys(int(x) for x in p.get("lists", ()))),
    )


def _generate_spec(
    raw: Mapping[str, Any] | None,
    list_ids: set[int],
    prospects: tuple[Prospect, ...],
    where: str,
) -> GenerateSpec | None:
    if raw is None:
        return None
    shares: list[tuple[int, float]] = []
    for key, share in dict(raw.get("lists", {})).items():
        try:
            list_id = int(key)
        except (TypeError, ValueError) as exc:
            raise SandboxSeedError(f"{where}: generate_prospects.lists key {key!r} is no id") from exc
        if list_id not in list_ids:
            raise SandboxSeedError(f"{where}: generate_prospects names unknown list {list_id}")
        shares.append((list_id, float(share)))
    start_id = int(raw.get("start_id", 100_000))
    count = int(raw["count"])
    taken = {p.id for p in prospects if start_id <= p.id < start_id + count}
    if taken:
        raise SandboxSeedError(
            f"{where}: generate_prospects ids {start_id}..{start_id + count - 1} "
            f"collide with seeded prospect(s) {sorted(taken)[:5]}"
        )
    return GenerateSpec(
        count=count,
        list_shares=tuple(sorted(shares)),
        opted_out=float(raw.get("opted_out", 0.0)),
        seed=int(raw.get("seed", 0)),
        start_id=start_id,
    )


_FIRST_NAMES = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken")
_LAST_NAMES = ("Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen")


def generate_prospects(spec: GenerateSpec) -> Iterator[Prospect]:
    """Yield ``spec.count`` synthetic prospects, the same ones for the same spec.

    One ``random.Random(spec.seed)`` drives every choice in a fixed order, so the output
    depends on the spec alone. Lazy: callers stream it into the database in batches.
    """
    rng = random.Random(spec.seed)
    for offset in range(spec.count):
        pid = spec.start_id + offset
        opted_out = rng.random() < spec.opted_out
        lists = tuple(list_id for list_id, share in spec.list_shares if rng.random() < share)
        yield Prospect(
            id=pid,
            email=f"prospect{pid}@example.com",
            first_name=_FIRST_NAMES[int(rng.random() * len(_FIRST_NAMES))],
            last_name=_LAST_NAMES[int(rng.random() * len(_LAST_NAMES))],
            company=None,
            opted_out=opted_out,
            deleted=False,
            lists=lists,
        )


def prospect_times(prospect_id: int, reference: datetime) -> tuple[str, str]:
    """Deterministic (created_at, updated_at) wire strings within 90 days before ``reference``.

    Derived from the id alone (a multiplicative hash: cheap enough for millions of rows) so that
    seeding the same data twice yields identical rows.
    """
    mixed = (prospect_id * 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
    window = int(_HISTORY.total_seconds())
    created_back = (mixed >> 32) % window
    updated_forward = (mixed & 0xFFFFFFFF) % (created_back + 1)
    created = int(reference.timestamp()) - created_back
    return (
        time.strftime(WIRE_FORMAT, time.gmtime(created)),
        time.strftime(WIRE_FORMAT, time.gmtime(created + updated_forward)),
    )
