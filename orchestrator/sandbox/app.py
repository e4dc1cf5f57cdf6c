"""The sandbox WSGI application: a Pardot look-alike for the calls the orchestrator makes.

Every ``/api/`` request passes the same gates, in Pardot's order as far as it is known:
concurrency (66, refused at once), injected latency and faults, method (60), credentials
(184, 181, 182, 201), the daily call limit (122), then the handler. ``/_sandbox/`` routes are
for inspection and control (clock, deleting an email): no faults, not counted; the ones that
change something need the token. Before any of that, every request passes the Host check and
the body-size cap of :mod:`orchestrator.sandbox.control`.
"""

from __future__ import annotations

import hmac
import json
import re
import socket
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from orchestrator.errors import display_path
from orchestrator.sandbox import control, email_templates, exports, objects, queries
from orchestrator.sandbox.config import (
    DEFAULT_ACCOUNT_TIMEZONE,
    MAX_IN_FLIGHT,
    SANDBOX_BUSINESS_UNIT,
    SANDBOX_TOKEN,
    ExportConfig,
    FaultConfig,
    account_zone,
)
from orchestrator.sandbox.dates import format_wire, parse_instant
from orchestrator.sandbox.errors import SandboxSeedError
from orchestrator.sandbox.faults import DropConnection, FaultPlan
from orchestrator.sandbox.inspection import (
    list_emails,
    recipient_ids,
    redact_headers,
    redact_params,
)
from orchestrator.sandbox.params import Params, read_params, response_format
from orchestrator.sandbox.seed import load_seed, seed_digest
from orchestrator.sandbox.sends import (
    Target,
    delete_email,
    email_body,
    read_email_row,
    send_list_email,
    send_one_to_one,
    v5_email_body,
    v5_fields,
    v5_message,
    v5_params,
)
from orchestrator.sandbox.stats import Counts, count_outcomes, stats_body, stats_scope_detail, unknown_stats_body
from orchestrator.sandbox.store import Store
from orchestrator.sandbox.wire import SandboxRefusal, fail, flag, ok, refuse

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

_V = "<any('3','4'):v>"
_BUSINESS_UNIT = re.compile(r"^0Uv[A-Za-z0-9]{15}$")
_LOG_SIZE = 10_000
_HTTP500_BODY = "<html><body><h1>500 Internal Server Error</h1></body></html>"

_API_RULES = Map(
    [
        Rule(f"/api/emailTemplate/version/{_V}/do/read/id/<id>", endpoint="template_read"),
        Rule(f"/api/emailTemplate/version/{_V}/do/listOneToOne", endpoint="template_list"),
        Rule(f"/api/email/version/{_V}/do/send", endpoint="send"),
        Rule(f"/api/email/version/{_V}/do/send/prospect_id/<pid>", endpoint="send_to_id"),
        Rule(f"/api/email/version/{_V}/do/send/prospect_email/<path:pemail>", endpoint="send_to_email"),
        Rule(f"/api/email/version/{_V}/do/read/id/<id>", endpoint="email_read"),
        Rule(f"/api/email/version/{_V}/do/stats/id/<id>", endpoint="email_stats"),
        Rule(f"/api/export/version/{_V}/do/create", endpoint="export_create"),
        Rule(f"/api/export/version/{_V}/do/read/id/<id>", endpoint="export_read"),
        Rule(f"/api/export/version/{_V}/do/query", endpoint="export_query"),
        Rule(f"/api/export/version/{_V}/do/cancel/id/<id>", endpoint="export_cancel"),
        Rule(
            f"/api/export/version/{_V}/do/downloadResults/id/<id>/file/<n>",
            endpoint="export_download",
        ),
        Rule(f"/api/<any(campaign,list,user):kind>/version/{_V}/do/read/id/<id>", endpoint="object_read"),
        Rule(f"/api/prospect/version/{_V}/do/read/id/<id>", endpoint="prospect_read"),
        Rule(f"/api/prospect/version/{_V}/do/read/email/<path:email>", endpoint="prospect_read_email"),
        Rule(f"/api/<any(campaign,list,user):kind>/version/{_V}/do/query", endpoint="object_query"),
        Rule("/api/v5/objects/list-emails", endpoint="v5_list_emails"),
        Rule("/api/v5/objects/emails", endpoint="v5_emails"),
        Rule("/api/v5/objects/list-emails/<id>/stats", endpoint="v5_list_email_stats"),
        Rule("/api/v5/objects/list-emails/<id>", endpoint="v5_list_email"),
        # email templates: create, read, update and query (orchestrator/sandbox/email_templates.py)
        Rule("/api/v5/objects/email-templates", endpoint="v5_email_templates"),
        Rule("/api/v5/objects/email-templates/<id>", endpoint="v5_email_template"),
        Rule("/api/v5/objects/<any(campaigns,lists,users):collection>", endpoint="v5_query"),
        Rule("/api/v5/objects/<any(campaigns,lists,users,emails):collection>/<id>", endpoint="v5_read"),
    ],
    strict_slashes=False,
)

#: The export query's parameters, as the seed's Export API page lists them, and ``format``.
_EXPORT_QUERY_PARAMS = frozenset({
    "format", "created_after", "created_before", "updated_after", "updated_before", "status", "object", "sort_by",
    "sort_order",
})

#: The endpoints a read-only user may not call (the role lacks "Send To List" / "Send One-to-one").
_SENDS = frozenset({"send", "send_to_id", "send_to_email", "v5_emails"})

_SANDBOX_RULES = Map(
    [
        Rule("/_sandbox/emails", endpoint="emails", methods=["GET"]),
        Rule("/_sandbox/emails/<int:email_id>/recipients", endpoint="recipients", methods=["GET"]),
        Rule("/_sandbox/requests", endpoint="requests", methods=["GET"]),
        Rule("/_sandbox/stats", endpoint="stats", methods=["GET"]),
        Rule("/_sandbox/emails/<int:email_id>", endpoint="delete_email", methods=["DELETE"]),
        Rule("/_sandbox/clock", endpoint="clock", methods=["GET", "POST"]),
    ]
)


class SandboxApp:
    """A Pardot-compatible WSGI application backed by SQLite; safe to call from many threads.

    ``db_path=None`` keeps the data in memory; a file database is seeded only when it is new,
    so sends recorded by one command are still there for the next. ``seed=None`` loads the
    built-in demo seed. ``clock`` returns the aware UTC "now" (tests pass a controllable one);
    ``POST /_sandbox/clock`` shifts it further. ``allow_hml_unsubscribe`` lets the HML opt-out
    tokens satisfy error 64's rule, as a project's ``policy.allow_hml_unsubscribe`` does.

    A file database remembers the digest of the seed it was filled from. Opened with a seed
    whose content differs, it raises :class:`SeedChanged` (never keeps serving stale data
    silently), or, with ``reload_seed=True``, deletes its data and reseeds.

    ``read_only_token`` is a second token, of a user whose role may read but not send (no "Send
    To List" or "Send One-to-one" ability): its sends are refused with error 46, as CI's
    pull-request jobs must be (docs/ci.md).

    ``account_timezone`` is the account's IANA time zone (default
    :data:`~orchestrator.sandbox.config.DEFAULT_ACCOUNT_TIMEZONE`): the daily call limit resets at
    midnight there, as Pardot's does. ValueError for a name that is not a zone.
    """

    def __init__(
        self,
        *,
        db_path: Path | None = None,
        seed: Path | Mapping[str, Any] | None = None,
        token: str = SANDBOX_TOKEN,
        read_only_token: str | None = None,
        business_unit_id: str = SANDBOX_BUSINESS_UNIT,
        faults: FaultConfig = FaultConfig(),
        clock: Callable[[], datetime] | None = None,
        exports: ExportConfig = ExportConfig(),
        reload_seed: bool = False,
        allow_hml_unsubscribe: bool = False,
        account_timezone: str = DEFAULT_ACCOUNT_TIMEZONE,
    ) -> None:
        self.allow_hml_unsubscribe = allow_hml_unsubscribe
        self.account_zone = account_zone(account_timezone)
        self._clock = clock or (lambda: datetime.now(UTC))
        self._offset = timedelta(0)
        self._token = token
        self._read_only_token = read_only_token
        self._business_unit_id = business_unit_id
        self.faults = faults
        self.export_config = exports
        self._fault_plan = FaultPlan(faults)
        self._gate = threading.Lock()
        self._in_flight = 0
        self._max_in_flight = 0
        self._api_requests = 0
        self._log_seq = 0
        self._log: deque[dict[str, Any]] = deque(maxlen=_LOG_SIZE)
        self.store = Store(db_path)
        try:
            self._seed(db_path, seed, reload_seed)
        except BaseException:
            self.store.close()  # a refused seed must not leave the database open
            raise

    def _seed(self, db_path: Path | None, seed: Path | Mapping[str, Any] | None, reload_seed: bool) -> None:
        """Seed a new database; check that an existing one was seeded from ``seed``."""
        current = seed_digest(seed)
        # Several commands may open a new database at once (three `apply`s started together):
        # load_seed re-checks inside its write transaction, and answers False when another
        # process seeded it first, whose seed is then compared like any existing one's.
        if not self.store.is_seeded() and self.store.load_seed(load_seed(seed), self.now(), seed_digest=current):
            return
        stored = self.store.meta("seed_digest")
        if stored is None:
            # A database seeded before digests were kept: adopt the seed, nothing to compare.
            self.store.set_meta("seed_digest", current)
        elif stored != current:
            if not reload_seed or db_path is None:
                raise SeedChanged(db_path, seed)
            self.store.close()
            remove_database(db_path)
            self.store = Store(db_path)
            self.store.load_seed(load_seed(seed), self.now(), seed_digest=current)

    # -- clock -------------------------------------------------------------------------------

    def now(self) -> datetime:
        """The sandbox's current time: the clock plus any shift made through the clock route."""
        with self._gate:
            offset = self._offset
        return self._clock() + offset

    def advance_clock(self, seconds: float) -> datetime:
        """Move the sandbox clock forward (or back, with a negative number)."""
        with self._gate:
            self._offset += timedelta(seconds=seconds)
        return self.now()

    def set_clock(self, moment: datetime) -> datetime:
        """Make the sandbox clock read ``moment`` now (it keeps ticking from there)."""
        with self._gate:
            self._offset = moment - self._clock()
        return self.now()

    def close(self) -> None:
        """Release the database."""
        self.store.close()

    # -- WSGI --------------------------------------------------------------------------------

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        is_control = request.path.startswith("/_sandbox/")
        refusal = self._refusal(request, is_control)
        if refusal is not None:
            return refusal(environ, start_response)
        try:
            response = self._inspect(request) if is_control else self._api(request)
        except RequestEntityTooLarge:
            response = _too_large(request)
        except DropConnection:
            sock = environ.get("werkzeug.socket")
            if sock is None:
                raise
            sock.shutdown(socket.SHUT_RDWR)
            raise ConnectionResetError("sandbox fault: connection dropped") from None
        return response(environ, start_response)

    def _refusal(self, request: Request, is_control: bool) -> Response | None:
        """The answer for a request no route may see: oversized body, foreign Host, missing token."""
        if control.too_large(request):
            return _too_large(request)  # by its Content-Length: nothing read
        if request.content_length is None and request.environ.get("wsgi.input_terminated"):
            # A chunked body: read (and keep, for the form parser) at most one byte over the
            # limit; werkzeug alone would cut the body at the limit without a word.
            limit = control.body_limit(request.path)
            request.max_content_length = limit + 1
            if len(request.get_data(cache=True)) > limit:
                return _too_large(request)
        why = control.host_refusal(request.environ, control=is_control)
        if why is not None:
            return _json({"error": why}, 403)
        if is_control and request.method in ("POST", "DELETE"):
            why = control.token_refusal(request, self._token)
            if why is not None:
                response = _json({"error": why}, 401)
                response.headers["WWW-Authenticate"] = 'Bearer realm="sandbox"'
                return response
            why = control.content_type_refusal(request)
            if why is not None:
                return _json({"error": why}, 415)
        return None

    # -- the API gates -----------------------------------------------------------------------

    def _api(self, request: Request) -> Response:
        fmt = response_format(request)
        entry = self._log_entry(request)
        if not self._enter():
            refusal = _v5_fail(refuse(66)) if request.path.startswith("/api/v5/") else fail(fmt, refuse(66))
            entry.update(status=refusal.status_code, err_code=66)
            return refusal
        try:
            if self.faults.latency_ms:
                time.sleep(self.faults.latency_ms / 1000)
            fault = self._fault_plan.next_fault()
            entry["fault"] = fault
            response = self._answer(request, fmt, fault, entry)
            entry["status"] = response.status_code
            if fault == "drop-after":
                entry["status"] = None
                raise DropConnection
            return response
        finally:
            self._leave()

    def _enter(self) -> bool:
        with self._gate:
            self._api_requests += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight + 1)
            if self._in_flight >= MAX_IN_FLIGHT:
                return False
            self._in_flight += 1
            return True

    def _leave(self) -> None:
        with self._gate:
            self._in_flight -= 1

    def _answer(
        self, request: Request, fmt: str, fault: str | None, entry: dict[str, Any]
    ) -> Response:
        if fault == "drop-before":
            raise DropConnection
        if fault == "http500":
            return Response(_HTTP500_BODY, status=500, mimetype="text/html")
        try:
            if fault == "error66":
                raise refuse(66)
            if fault == "error183":
                raise refuse(183)
            if request.method not in ("GET", "POST") and not _patchable(request):
                raise refuse(60, request.method)
            read_only = self._check_credentials(request)
            self._count_call()
            return self._dispatch(request, fmt, read_only=read_only)
        except SandboxRefusal as error:
            entry["err_code"] = error.code
            if request.path.startswith("/api/v5/"):
                return _v5_fail(error)
            return fail(fmt, error)

    def _check_credentials(self, request: Request) -> bool:
        """Check the token and business unit; True when the token is the read-only one."""
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        given = token.strip().encode()
        bearer = scheme.lower() == "bearer"
        read_only = bearer and self._read_only_token is not None and hmac.compare_digest(
            given, self._read_only_token.encode()
        )
        if not read_only and (not bearer or not hmac.compare_digest(given, self._token.encode())):
            raise refuse(184)
        unit = request.headers.get("Pardot-Business-Unit-Id", "").strip()
        if not unit:
            raise refuse(181)
        if not _BUSINESS_UNIT.match(unit):
            raise refuse(182)
        if unit != self._business_unit_id:
            raise refuse(201)
        return read_only

    def _count_call(self) -> None:
        """Count one call against today's limit (a day of the account's zone); 122 once it is met."""
        limit = self.faults.daily_limit
        day = self.now().astimezone(self.account_zone).date().isoformat()
        with self.store.transaction() as conn:
            row = conn.execute("SELECT calls FROM api_usage WHERE day = ?", (day,)).fetchone()
            calls = 0 if row is None else int(row["calls"])
            if limit is not None and calls >= limit:
                raise refuse(122, f"{limit} calls per day")
            conn.execute(
                "INSERT INTO api_usage (day, calls) VALUES (?, 1)"
                " ON CONFLICT (day) DO UPDATE SET calls = calls + 1",
                (day,),
            )

    def _dispatch(self, request: Request, fmt: str, *, read_only: bool = False) -> Response:
        adapter = _API_RULES.bind_to_environ(request.environ)
        try:
            endpoint, args = adapter.match(method=request.method)
        except HTTPException:
            raise refuse(2, request.path) from None
        writes = endpoint in ("v5_list_emails", "v5_email_templates", "v5_email_template") and request.method != "GET"
        if read_only and (endpoint in _SENDS or writes):
            raise SandboxRefusal(46, "API user lacks permission: this user's role cannot send emails")
        handler: Callable[[Request, str, Mapping[str, Any]], Response] = getattr(
            self, f"_do_{endpoint}"
        )
        return handler(request, fmt, args)

    # -- email templates ---------------------------------------------------------------------

    def _do_template_read(self, request: Request, fmt: str, args: Mapping[str, Any]) -> Response:
        archived = _archived(read_params(request), 145)
        with self.store.reading() as conn:
            row = None
            if args["id"].isdigit():
                row = conn.execute(
                    "SELECT * FROM templates WHERE id = ?", (int(args["id"]),)
                ).fetchone()
        if row is None or (row["archived"] and not archived):
            # Pardot answers an unknown template inside an ok envelope (§3.4).
            return ok(fmt, {"emailTemplate": {
                "error": 1, "errorCode": 68, "errorMessage": "Template with this id does not exist",
            }})
        return ok(fmt, {"emailTemplate": {
            "id": row["id"],
            "name": row["name"],
            "subject": row["subject"],
            "htmlMessage": row["html"],
            "textMessage": row["text"],
            "isDripEmail": flag(row["is_drip_email"]),
            "isListEmail": flag(row["is_list_email"]),
            "isOneToOneEmail": flag(row["is_one_to_one_email"]),
            "isArchived": flag(row["archived"]),
            "isAutoResponderEmail": flag(row["is_autoresponder_email"]),
            "sendOptions": {
                "replyToAddress": row["reply_to_address"],
                "sendFromData": row["send_from"],
            },
            "error": "",
        }})

    def _do_template_list(self, request: Request, fmt: str, args: Mapping[str, Any]) -> Response:
        archived = _archived(read_params(request), 146)
        with self.store.reading() as conn:
            rows = conn.execute(
                "SELECT * FROM templates WHERE is_one_to_one_email = 1"
                " AND (archived = 0 OR ?) ORDER BY id",
                (archived,),
            ).fetchall()
        items = [
            {
                "id": row["id"],
                "name": row["name"],
                "subject": row["subject"],
                "isOneToOneEmail": flag(True),
                "isArchived": flag(row["archived"]),
                "isAutoResponderEmail": flag(row["is_autoresponder_email"]),
                "isDripEmail": flag(row["is_drip_email"]),
                "isListEmail": flag(row["is_list_email"]),
            }
            for row in rows
        ]
        body: dict[str, Any] = {"count": len(items)}
        if items:
            body["templates"] = items[0] if len(items) == 1 else items
        return ok(fmt, {"emailTemplates": body})

    # -- emails ------------------------------------------------------------------------------

    def _do_send(self, request: Request, fmt: str, args: Mapping[str, Any]) -> Response:
        params = read_params(request)
        if not params.array("list_ids") and (
            params.get("prospect_id") or params.get("prospect_email")
        ):
            # The v4 docs' curl example posts the one-to-one target as a body field (§1.5).
            target = Target(params.get("prospect_id"), params.get("prospect_email"))
            return self._one_to_one(params, fmt, target)
        email_id = send_list_email(self.store, params, self.now(), allow_hml_unsubscribe=self.allow_hml_unsubscribe)
        return self._email_answer(fmt, email_id)

    def _do_send_to_id(self, request: Request, fmt: str, args: Mapping[str, Any]) -> Response:
        return self._one_to_one(read_params(request), fmt, Target(prospect_id=args["pid"]))

    def _do_send_to_email(self, request: Request, fmt: str, args: Mapping[str, Any]) -> Response:
        return self._one_to_one(read_params(request), fmt, Target(prospect_email=args["pemail"]))

    def _one_to_one(self, params: Params, fmt: str, target: Target) -> Response:
        email_id = send_one_to_one(
            self.store, params, target, self.now(), allow_hml_unsubscribe=self.allow_hml_unsubscribe
        )
        return self._email_answer(fmt, email_id)

    def _email_answer(self, fmt: str, email_id: int) -> Response:
        with self.store.reading() as conn:
            row = read_email_row(conn, str(email_id))
        return ok(fmt, {"email": email_body(row, include_message=True)})

    def _do_email_read(self, request: Request, fmt: str, args: Mapping[str, Any]) -> Response:
        include = read_params(request).boolean("include_message", default=True)
        with self.store.reading() as conn:
            row = read_email_row(conn, args["id"])
        return ok(fmt, {"email": email_body(row, include_message=include)})

    def _do_email_stats(self, request: Request, fmt: str, args: Mapping[str, Any]) -> Response:
        with self.store.reading() as conn:
            row = read_email_row(conn, args["id"])
            if row["kind"] != "list":
                raise refuse(109, stats_scope_detail(row["id"]))
            return ok(fmt, {"stats": self._stats(conn, row)})

    def _stats(self, conn: sqlite3.Connection, row: sqlite3.Row) -> Mapping[str, Any]:
        """The 17 figures of one email, counted once and kept; all null before it goes out."""
        scheduled = row["scheduled_time"]
        if scheduled is not None and parse_instant(scheduled) > self.now():
            # Not sent yet on the sandbox clock: no statistics. Real v4 JSON gives null for
            # figures it does not have (docs/wire-format.md); nothing is invented or cached.
            return unknown_stats_body()
        if row["stats"] is not None:
            counts = Counts(**json.loads(row["stats"]))
        else:
            cursor = conn.execute("SELECT prospect_id FROM email_recipients WHERE email_id = ?", (row["id"],))
            counts = count_outcomes(int(row["id"]), (int(r[0]) for r in cursor))
            conn.execute("UPDATE emails SET stats = ? WHERE id = ?", (json.dumps(counts.__dict__), row["id"]))
        return stats_body(counts)

    def _do_v5_list_email_stats(self, request: Request, fmt: str, args: Mapping[str, Any]) -> Response:
        """``GET /api/v5/objects/list-emails/<id>/stats``: list emails only, the v4 figures in
        camelCase (**UNCONFIRMED** body, docs/wire-format.md "Version 5"); else v5's 404."""
        with self.store.reading() as conn:
            row = None
            if args["id"].isdigit():
                row = conn.execute(
                    "SELECT * FROM emails WHERE id = ? AND kind = 'list' AND deleted_at IS NULL", (int(args["id"]),)
                ).fetchone()
            if row is None:
                raise objects.v5_refuse(404, 192, "Object does not exist")
            figures = self._stats(conn, row)
        return _json({_camel(name): value for name, value in figures.items()})

    # -- campaigns, lists, users; v5 list emails ------------------------------------------

    def _do_object_read(self, request: Request, fmt: str, args: Mapping[str, Any]) -> Response:
        return ok(fmt, objects.read_object(self.store, args["kind"], args["id"]))

    def _do_prospect_read(self, request: Request, fmt: str, args: Mapping[str, Any]) -> Response:
        return ok(fmt, objects.read_prospects(self.store, raw_id=args["id"]))

    def _do_prospect_read_email(self, request: Request, fmt: str, args: Mapping[str, Any]) -> Response:
        return ok(fmt, objects.read_prospects(self.store, email=args["email"]))

    def _do_object_query(self, request: Request, fmt: str, args: Mapping[str, Any]) -> Response:
        return ok(fmt, queries.query_objects(self.store, args["kind"], read_params(request), self.now()))

    def _do_v5_list_emails(self, request: Request, fmt: str, args: Mapping[str, Any]) -> Response:
        if request.method == "POST":
            return self._v5_create(request, "list")
        if request.method != "GET":
            raise objects.v5_refuse(405, 60, "the sandbox implements only the list-email query")
        return _json(
            objects.query_list_emails_v5(self.store, read_params(request), self.now(), base_url=request.host_url)
        )

    def _do_v5_list_email(self, request: Request, fmt: str, args: Mapping[str, Any]) -> Response:
        return _json(objects.read_list_email_v5(self.store, args["id"], read_params(request), self.now()))

    def _do_v5_emails(self, request: Request, fmt: str, args: Mapping[str, Any]) -> Response:
        if request.method == "POST":
            return self._v5_create(request, "one-to-one")
        return self._do_v5_query(request, fmt, {"collection": "emails"})

    def _do_v5_query(self, request: Request, fmt: str, args: Mapping[str, Any]) -> Response:
        """A v5 query of campaigns, lists, users, email templates or one-to-one emails (GET only)."""
        if request.method != "GET":
            raise objects.v5_refuse(405, 60, "the sandbox implements only the query of this collection")
        params = read_params(request)
        return _json(objects.query_v5(self.store, args["collection"], params, self.now(), base_url=request.host_url))

    def _do_v5_read(self, request: Request, fmt: str, args: Mapping[str, Any]) -> Response:
        if request.method != "GET":
            raise objects.v5_refuse(405, 60, "the sandbox implements only the read of this object")
        params = read_params(request)
        return _json(objects.read_v5(self.store, args["collection"], args["id"], params, self.now()))

    def _v5_create(self, request: Request, kind: str) -> Response:
        """A v5 create (= send): the JSON body becomes v3/v4 parameters and passes the same
        validation; 201 with the asked readable fields, or ``{"code", "message"}`` with 400."""
        try:
            fields = v5_fields(request.args.get("fields"))
            if not request.get_data():
                raise refuse(152)
            if request.mimetype != "application/json":
                raise refuse(151)
            try:
                body = json.loads(request.get_data())
            except (ValueError, RecursionError):
                raise refuse(150) from None
            params = v5_params(body, kind=kind)
            allow = self.allow_hml_unsubscribe
            if kind == "list":
                email_id = send_list_email(self.store, params, self.now(), allow_hml_unsubscribe=allow)
                prospect = None
            else:
                target = Target(prospect_id=params.get("prospect_id"))
                email_id = send_one_to_one(self.store, params, target, self.now(), allow_hml_unsubscribe=allow)
                prospect = int(params.get("prospect_id") or 0)
        except SandboxRefusal as error:
            raise SandboxRefusal(error.code, v5_message(error.message), http_status=error.http_status) from None
        with self.store.reading() as conn:
            row = read_email_row(conn, str(email_id))
        response = _json(v5_email_body(row, fields, self.now(), prospect), 201)
        collection = "list-emails" if kind == "list" else "emails"
        response.headers["Location"] = f"{_base_url(request)}/api/v5/objects/{collection}/{email_id}"
        return response

    # -- v5 email templates (orchestrator/sandbox/email_templates.py) ------------------------

    def _do_v5_email_templates(self, request: Request, fmt: str, args: Mapping[str, Any]) -> Response:
        if request.method == "GET":  # the query every v5 collection shares (objects.V5_COLLECTIONS)
            return self._do_v5_query(request, fmt, {"collection": "email-templates"})
        if request.method != "POST":
            raise objects.v5_refuse(405, 60, "email templates take GET (query) or POST (create) here")
        template_id, answer = email_templates.create(
            self.store, _json_body(request), request.args.get("fields"), self.now()
        )
        response = _json(answer, 201)
        response.headers["Location"] = f"{_base_url(request)}/api/v5/objects/email-templates/{template_id}"
        return response

    def _do_v5_email_template(self, request: Request, fmt: str, args: Mapping[str, Any]) -> Response:
        if request.method == "GET":
            return self._do_v5_read(request, fmt, {"collection": "email-templates", "id": args["id"]})
        if request.method != "PATCH":
            raise objects.v5_refuse(405, 60, "an email template takes GET (read) or PATCH (update) here")
        body = _json_body(request)
        return _json(email_templates.update(self.store, args["id"], body, request.args.get("fields"), self.now()))

    # -- exports -----------------------------------------------------------------------------

    def _do_export_create(self, request: Request, fmt: str, args: Mapping[str, Any]) -> Response:
        if request.method != "POST":
            raise refuse(60, "export create needs POST")
        now = self.now()
        body = request.get_data(cache=True)
        parsed = exports.parse_create_body(request.headers.get("Content-Type", ""), body, now)
        job_id = exports.create_job(self.store, parsed, int(args["v"]), now)
        return self._job_answer(request, fmt, str(job_id))

    def _do_export_read(self, request: Request, fmt: str, args: Mapping[str, Any]) -> Response:
        return self._job_answer(request, fmt, args["id"])

    def _job_answer(self, request: Request, fmt: str, raw_id: str) -> Response:
        with self.store.reading() as conn:
            row = exports.job_row(conn, raw_id)
        job = exports.observe(self.store, row, self.now(), self.export_config)
        return ok(fmt, {"export": exports.job_body(job, _base_url(request))})

    def _do_export_query(self, request: Request, fmt: str, args: Mapping[str, Any]) -> Response:
        params = read_params(request)
        unknown = sorted(set(params.scalars) - _EXPORT_QUERY_PARAMS) + sorted(f"{k}[]" for k in params.arrays)
        if unknown:  # never ignored: a client would take an unfiltered answer for a filtered one
            raise refuse(5, f"not an export query parameter: {', '.join(unknown)}")
        filters = {k: v for k, v in params.scalars.items() if k != "format" and v}
        jobs = exports.query_jobs(self.store, filters, self.now(), self.export_config)
        base = _base_url(request)
        items = [exports.job_body(job, base, with_refs=False) for job in jobs]
        result: dict[str, Any] = {"total_results": len(items)}
        if items:
            result["export"] = items[0] if len(items) == 1 else items
        return ok(fmt, {"result": result})

    def _do_export_cancel(self, request: Request, fmt: str, args: Mapping[str, Any]) -> Response:
        with self.store.reading() as conn:
            row = exports.job_row(conn, args["id"])
        exports.cancel_job(self.store, row, self.now(), self.export_config)
        return self._job_answer(request, fmt, args["id"])

    def _do_export_download(self, request: Request, fmt: str, args: Mapping[str, Any]) -> Response:
        with self.store.reading() as conn:
            row = exports.job_row(conn, args["id"])
        job = exports.observe(self.store, row, self.now(), self.export_config)
        index = exports.check_download(job, args["n"])
        with self.store.reading() as conn:
            row = exports.job_row(conn, args["id"])
        chunks = exports.stream_csv(self.store, row, index, self.export_config)
        return Response(chunks, status=200, mimetype="text/csv", direct_passthrough=True)

    # -- inspection --------------------------------------------------------------------------

    def _inspect(self, request: Request) -> Response:
        adapter = _SANDBOX_RULES.bind_to_environ(request.environ)
        try:
            endpoint, args = adapter.match()
        except HTTPException as exc:
            return _json({"error": exc.description or "not found"}, exc.code or 404)
        if endpoint == "emails":
            return _json({"emails": list_emails(self.store)})
        if endpoint == "recipients":
            email_id = int(args["email_id"])
            return _json({"email_id": email_id, "prospect_ids": recipient_ids(self.store, email_id)})
        if endpoint == "requests":
            with self._gate:
                entries = list(self._log)
            return _json({"requests": entries})
        if endpoint == "stats":
            with self._gate:
                stats = {"max_in_flight": self._max_in_flight, "requests": self._api_requests}
            return _json(stats)
        if endpoint == "delete_email":
            return self._delete_route(int(args["email_id"]))
        return self._clock_route(request)

    def _delete_route(self, email_id: int) -> Response:
        """Delete an email as an operator does in Pardot's UI (it goes to the recycle bin)."""
        deleted = delete_email(self.store, email_id, self.now())
        if deleted is None:
            return _json({"error": f"the sandbox has no email {email_id} (or it is deleted already)"}, 404)
        return _json({"deleted": deleted})

    def _clock_route(self, request: Request) -> Response:
        if request.method == "POST":
            try:
                body = json.loads(request.get_data() or b"{}")
                if "set" in body:
                    self.set_clock(parse_instant(str(body["set"])))
                elif "advance_seconds" in body:
                    self.advance_clock(float(body["advance_seconds"]))
                else:
                    return _json({"error": "expected advance_seconds or set"}, 400)
            except (ValueError, TypeError) as exc:
                return _json({"error": f"invalid clock request: {exc}"}, 400)
        return _json({"now": self.now().isoformat()})

    def _log_entry(self, request: Request) -> dict[str, Any]:
        form = request.form if request.mimetype == "application/x-www-form-urlencoded" else None
        entry: dict[str, Any] = {
            "time": format_wire(self.now()),
            "method": request.method,
            "path": request.path,
            "query": redact_params(request.args.to_dict(flat=False)),
            "form": redact_params(form.to_dict(flat=False) if form else {}),
            "headers": redact_headers(request.headers.items()),
            "status": None,
            "err_code": None,
            "fault": None,
        }
        with self._gate:
            self._log_seq += 1
            entry["seq"] = self._log_seq
            self._log.append(entry)
        return entry


class SeedChanged(SandboxSeedError):
    """The seed's content differs from the one the sandbox database was filled from."""

    def __init__(self, db_path: Path | None, seed: Path | Mapping[str, Any] | None) -> None:
        where = display_path(db_path) if db_path else "the sandbox database"
        what = "the built-in demo seed" if seed is None else "the seed"
        if isinstance(seed, Path):
            what = display_path(seed)
        super().__init__(
            f"{what} changed since {where} was seeded from it; the sandbox still holds the old data",
            hint="run `orchestrator sandbox reset` to start over with the new seed (the sandbox forgets the "
            "emails it received), or `orchestrator sandbox serve --reload-seed`; or restore the old seed",
        )


def remove_database(db_path: Path) -> list[Path]:
    """Delete a sandbox SQLite file and its WAL companions; the paths that existed."""
    removed = []
    for path in (db_path, db_path.with_name(db_path.name + "-wal"), db_path.with_name(db_path.name + "-shm")):
        if path.exists():
            path.unlink()
            removed.append(path)
    return removed


def _archived(params: Params, code: int) -> bool:
    """``archived`` of a template read (code 145) or one-to-one list (146), default false.

    Both codes say "Invalid archived parameter specified. Allowed values are true or false."
    (pardot/api-docs ``docs/kb/error-codes-messages.md``); the page does not say which call
    answers which, so **CHOICE**: 145 for the read, 146 for ``listOneToOne``, in the order the
    email-templates page lists them.
    """
    value = params.get("archived")
    if value is None:
        return False
    if value.lower() not in ("true", "false"):
        raise refuse(code, f"got {value!r}")
    return value.lower() == "true"


def _patchable(request: Request) -> bool:
    """A PATCH to one v5 email template, the one update the sandbox serves (email_templates.py)."""
    return request.method == "PATCH" and request.path.startswith("/api/v5/objects/email-templates/")


def _json_body(request: Request) -> Any:
    """The JSON body of a v5 create or update: 152 when empty, 151 when not JSON, 150 when unreadable."""
    if not request.get_data():
        raise refuse(152)
    if request.mimetype != "application/json":
        raise refuse(151)
    try:
        return json.loads(request.get_data())
    except (ValueError, RecursionError):
        raise refuse(150) from None


def _base_url(request: Request) -> str:
    return request.host_url.rstrip("/")


#: v5 wordings recorded from a real account (amp-labs/connectors fixture ``err-missing-header.json``,
#: pardot-api.md §10), where they differ from v3/v4's.
_V5_MESSAGES = {181: "A required header is missing: Pardot-Business-Unit-Id header not found on request."}


#: The limits a v5 path answers with HTTP 429 (docs/wire-format.md, "Version 5"). 122, the daily
#: limit: Airbyte's Pardot source treats a v5 429 saying "Daily API rate limit met" as the daily
#: limit (airbytehq/airbyte source-pardot manifest.yaml @ 1c4ac610). 66, a sixth request in
#: flight: a public log of a real account shows 429 on v5 (pardot-api.md §10, unattributed, so a
#: **CHOICE**). The body still carries the code.
_V5_TOO_MANY = frozenset({66, 122})


def _v5_fail(error: SandboxRefusal) -> Response:
    """A v5 error answer: ``{"code": N, "message": ...}`` with a 4xx status (version5overview),
    429 for the limits in :data:`_V5_TOO_MANY`."""
    status = 429 if error.code in _V5_TOO_MANY else error.http_status if error.http_status >= 400 else 400
    message = _V5_MESSAGES.get(error.code, error.message)
    response = _json({"code": error.code, "message": message}, status)
    if error.warning is not None:
        response.headers["Pardot-Warning"] = error.warning
    return response


def _camel(name: str) -> str:
    """``total_clicks`` → ``totalClicks``: v3/v4 field names as v5 spells them."""
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _too_large(request: Request) -> Response:
    """413, before (or instead of) reading the rest of the body."""
    limit = control.body_limit(request.path)
    return _json({"error": f"request body over {limit} bytes"}, 413)


def _json(body: Mapping[str, Any], status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")
