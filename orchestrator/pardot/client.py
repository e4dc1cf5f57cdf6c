"""The Pardot API client: every email, template and export call the orchestrator makes (v3/v4, and
v5 through the version object, :mod:`.versions`).

How one call runs (:meth:`PardotClient._execute`)::

    tenacity loop (backoff + jitter; what may be retried depends on the call)
      └─ authenticated attempt: token → attempt; on 184 / HTTP 401 refresh once → attempt
           └─ attempt: one HTTP exchange, inside the in-flight semaphore and the one httpx
              exception mapping; then envelope parsing and the one error-code mapping

Retry rules, because sends are irreversible and carry no idempotency key:

* reads, stats, export calls: 66, 183, 5xx and transport errors are retried with backoff;
* sends: retried only when the failure proves Pardot did not process them: error 66, a
  refused token (refresh, then once more), or a connection that was never made
  (:data:`~orchestrator.pardot.errormap.NOT_SENT`). Anything else whose outcome is open (read
  timeout, reset, 5xx, an unreadable 200) raises :class:`ApiOutcomeUnknown`;
* 122 (daily quota) is never retried: nothing will succeed before tomorrow.

Bounds, because the server is not trusted (:mod:`orchestrator.pardot.transport`): each call,
retries and token refresh included, ends within ``settings.deadline_s`` of wall-clock time
(``download_deadline_s`` for an export file), whatever the server trickles; an answer larger
than ``settings.max_response_bytes`` is refused unread past the limit. For a send, either
happening after the request was written is an :class:`ApiOutcomeUnknown`, like any other
failure that does not prove the send went unprocessed.

Every message leaving the client is scrubbed: secrets are redacted, and for a one-to-one send
by address the prospect's email is masked.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import tenacity

from orchestrator.errors import (
    ApiAuthError,
    ApiError,
    ApiNotFound,
    ApiOutcomeUnknown,
    ApiProtocolError,
    ApiRateLimited,
    ApiTransientError,
    ConfigError,
)
from orchestrator.pardot import decode, endpoints, list_email_lists_v5, templates_v5
from orchestrator.pardot.auth import TokenSource, Tracer, token_source_for
from orchestrator.pardot.endpoints import Call
from orchestrator.pardot.envelope import Envelope, as_list, parse_envelope
from orchestrator.pardot.errormap import REFRESH_CODES, map_transport_errors
from orchestrator.pardot.models import (
    Campaign,
    Email,
    EmailStats,
    EmailTemplate,
    EmailTemplateSummary,
    ExportJob,
    ExportQueryResult,
    ListEmailSend,
    ListEmailSummary,
    OneToOneEmailSummary,
    OneToOneSend,
    PardotList,
    Prospect,
    User,
)
from orchestrator.pardot.settings import ApiSettings, check_transport_security
from orchestrator.pardot.templates_v5 import RemoteTemplate
from orchestrator.pardot.transport import BodyTooLarge, check_deadline, deadline, install_deadlines, read_capped
from orchestrator.pardot.versions import ApiVersion, api_version
from orchestrator.redact import mask_emails, redact

__all__ = ["DEFAULT_RETRY_WAIT", "PardotClient"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: Full jitter (AWS style): a random wait up to 0.5 s, 1 s, 2 s, ... capped at 20 s, so clients
#: that hit error 66 together do not come back together.
DEFAULT_RETRY_WAIT: tenacity.wait.wait_base = tenacity.wait_random_exponential(multiplier=0.5, max=20)

_ENVELOPE_TYPES = ("json", "xml")

#: At most this many pages of one v5 query (templates, id look-ups): a server that keeps handing
#: out tokens cannot keep a read going for ever.
MAX_V5_PAGES = 1000

Origin = tuple[str, str, int]

#: Pardot's documented download origin for export files (see ``_check_download_url``).
DOWNLOAD_ORIGIN: Origin = ("https", "www.pardot.com", 443)
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin(url: str) -> Origin:
    """``(scheme, host, port)`` with the scheme's default port filled in; ValueError on a bad port."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").rstrip("."), parts.port or _DEFAULT_PORTS.get(scheme, 0)


def _show_origin(origin: Origin) -> str:
    scheme, host, port = origin
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}" if _DEFAULT_PORTS.get(scheme) == port else f"{scheme}://{shown}:{port}"


def _retryable(api: ApiVersion, call: Call, error: BaseException) -> bool:
    """May ``call`` be tried again after ``error``? The whole exactly-once policy is here.

    A send is retried only when ``api`` (the version's own rule) says the failure proves the
    request was not processed.
    """
    if isinstance(error, ApiRateLimited):
        return True
    if call.is_send:
        return api.proves_not_sent(error)
    return isinstance(error, ApiTransientError)


class _StopAt(tenacity.stop.stop_base):
    """Stop retrying once the call's deadline (a monotonic time) has passed."""

    def __init__(self, until: float | None) -> None:
        self._until = until

    def __call__(self, retry_state: tenacity.RetryCallState) -> bool:
        return self._until is not None and time.monotonic() >= self._until


def _refuses_list_fields(error: ApiError) -> bool:
    """A 400 answer naming the refresh query's list fields: Pardot does not accept them."""
    text = str(error)
    return error.http_status == 400 and ("recipientLists" in text or "suppressionLists" in text)


def _needs_refresh(error: ApiAuthError) -> bool:
    return error.code in REFRESH_CODES or (error.code is None and error.http_status == 401)


class PardotClient:
    """A thread-safe client for one business unit; use one instance per run and share it.

    ``transport`` replaces the network (the sandbox's in-process transport, or
    ``httpx.MockTransport`` in tests); ``env`` is where ``*_env`` settings are looked up
    (default ``os.environ``, read on first use); ``tracer(request, response)`` sees every
    exchange (its body not read yet), ``response`` None when the transport failed.
    ``retry_wait`` and ``sleep`` let tests keep backoff instant. ``api`` is the API version
    object (:mod:`.versions`); by default the one ``settings.version`` names.
    """

    def __init__(
        self,
        settings: ApiSettings,
        *,
        transport: httpx.BaseTransport | None = None,
        env: Mapping[str, str] | None = None,
        tracer: Tracer | None = None,
        retry_wait: tenacity.wait.wait_base | None = None,
        sleep: Callable[[float], None] = time.sleep,
        api: ApiVersion | None = None,
    ) -> None:
        self._settings = settings
        self._api: ApiVersion = api_version(settings.version) if api is None else api
        self._tracer = tracer
        self._http = httpx.Client(
            transport=transport,
            timeout=httpx.Timeout(settings.timeout_s),
            follow_redirects=False,
        )
        install_deadlines(self._http)
        self._tokens: TokenSource = token_source_for(
            settings.auth,
            env=os.environ if env is None else env,
            http=self._http,
            tracer=tracer,
            max_response_bytes=settings.max_token_response_bytes,
        )
        self._in_flight = threading.BoundedSemaphore(settings.max_in_flight)
        self._calls = 0
        self._calls_lock = threading.Lock()
        self._retry_wait = DEFAULT_RETRY_WAIT if retry_wait is None else retry_wait
        self._sleep = sleep
        self._refresh_lists = True  # False once Pardot refused the refresh query's list fields

    def __repr__(self) -> str:
        return f"PardotClient(base_url={self._settings.base_url!r}, calls={self.calls})"

    @property
    def calls(self) -> int:
        """HTTP requests attempted against Pardot so far: retries included, OAuth calls not.

        Each one may count against the daily API limit, so callers can report usage per run.
        """
        with self._calls_lock:
            return self._calls

    @property
    def api(self) -> ApiVersion:
        """The API version this client speaks (paths, encoding, decoding, error rules)."""
        return self._api

    @property
    def settings(self) -> ApiSettings:
        """The settings this client was built with."""
        return self._settings

    # --- lifecycle ------------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection pool (and the transport)."""
        self._http.close()

    def __enter__(self) -> PardotClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- email templates ------------------------------------------------------------------

    def read_template(self, template_id: int, *, archived: bool = False) -> EmailTemplate:
        """One template; ApiNotFound (68) when it does not exist or is archived and not asked for."""
        call = self._api.template_read(template_id, archived=archived)
        envelope = self._execute(call)
        with self._scrubbing(call):
            return self._api.decode_template(envelope)

    def list_one_to_one_templates(self, *, archived: bool = False) -> list[EmailTemplateSummary]:
        """Templates enabled for one-to-one emails (all of them: v3/v4 in one call, v5 paged)."""
        templates: list[EmailTemplateSummary] = []
        token: str | None = None
        for _ in range(MAX_V5_PAGES):
            call = self._api.template_list_one_to_one(archived=archived, page_token=token)
            envelope = self._execute(call)
            with self._scrubbing(call):
                templates.extend(self._api.decode_template_list(envelope))
                token = self._next_token(call, envelope)
            if token is None:
                return templates
        raise ApiProtocolError(f"the template query did not end after {MAX_V5_PAGES} pages")

    # --- emails ---------------------------------------------------------------------------

    def send_list_email(self, send: ListEmailSend) -> Email:
        """Send or schedule a list email. Raises ApiOutcomeUnknown when the outcome is unknown."""
        call = self._api.list_send(send)
        return self._decode_send(call, self._execute(call))

    def send_one_to_one(self, send: OneToOneSend) -> Email:
        """Send one email to one prospect. Raises ApiOutcomeUnknown when the outcome is unknown."""
        call = self._api.one_to_one_send(send)
        return self._decode_send(call, self._execute(call))

    def read_email(self, email_id: int, *, include_message: bool = True) -> Email:
        """One email record; ApiNotFound (109, or v5's 192) when the id names nothing.

        v5 splits emails by kind: a list-email read that answers "not found" is followed by a
        one-to-one email read (:meth:`ApiVersion.email_read_fallback`).
        """
        call = self._api.email_read(email_id, include_message=include_message)
        try:
            envelope = self._execute(call)
        except ApiNotFound:
            fallback = self._api.email_read_fallback(email_id, include_message=include_message)
            if fallback is None:
                raise
            call = fallback
            envelope = self._execute(call)
        with self._scrubbing(call):
            return self._api.decode_email(call, envelope)

    def email_stats(self, email_id: int) -> EmailStats:
        """Statistics of a list email (rates as percentages)."""
        call = self._api.email_stats(email_id)
        envelope = self._execute(call)
        with self._scrubbing(call):
            return self._api.decode_stats(envelope)

    # --- campaigns, lists, users (ids) -----------------------------------------------------

    def read_campaign(self, campaign_id: int) -> Campaign:
        """One campaign; ApiValidationError 38 (or ApiNotFound) when the id names nothing."""
        return decode.decode_campaign(self._read_object("campaign", campaign_id))

    def read_list(self, list_id: int) -> PardotList:
        """One list; ApiValidationError 55 (or ApiNotFound) when the id names nothing."""
        return decode.decode_list(self._read_object("list", list_id))

    def read_user(self, user_id: int) -> User:
        """One user; ApiValidationError 10 (or ApiNotFound) when the id names nothing."""
        return decode.decode_user(self._read_object("user", user_id))

    def query_campaigns(self) -> list[Campaign]:
        """Every campaign, in id order (paged by id, 200 a call)."""
        return [decode.decode_campaign(item) for item in self._query_all("campaign")]

    def query_lists(self) -> list[PardotList]:
        """Every list, in id order (paged by id, 200 a call)."""
        return [decode.decode_list(item) for item in self._query_all("list")]

    def query_users(self) -> list[User]:
        """Every user, in id order (paged by id, 200 a call)."""
        return [decode.decode_user(item) for item in self._query_all("user")]

    def read_prospects(self, *, prospect_id: int | None = None, email: str | None = None) -> list[Prospect]:
        """The prospect with ``prospect_id``, or every prospect with ``email`` (v4 allows several).

        ApiNotFound (error 3 "Invalid prospect ID", 4 "Invalid prospect email address") when none.
        """
        call = self._api.prospect_read(prospect_id=prospect_id, email=email)
        envelope = self._execute(call)
        with self._scrubbing(call):
            return [decode.decode_prospect(item) for item in as_list(envelope.root("prospect"))]

    def _read_object(self, obj: str, object_id: int) -> object:
        call = self._api.object_read(obj, object_id)
        envelope = self._execute(call)
        with self._scrubbing(call):
            return self._api.decode_object(obj, envelope)

    def _query_all(self, obj: str, *, max_pages: int = 1000) -> list[object]:
        """Every campaign, list or user: by token under v5, by id under v3/v4."""
        if self._api.pages_by_token:
            return self._query_all_by_token(obj, max_pages=max_pages)
        return self._query_all_by_id(obj, max_pages=max_pages)

    def _query_all_by_token(self, obj: str, *, max_pages: int) -> list[object]:
        items: list[object] = []
        token: str | None = None
        for _ in range(max_pages):
            call = self._api.object_query(obj, page_token=token)
            envelope = self._execute(call)
            with self._scrubbing(call):
                page, _ = self._api.decode_query_page(obj, envelope)
                token = self._next_token(call, envelope)
            items.extend(page)
            if token is None:
                return items
        raise ApiProtocolError(f"{obj} query did not end after {max_pages} pages")

    def _query_all_by_id(self, obj: str, *, max_pages: int) -> list[object]:
        """Page through a v3/v4 query by id; stops on a short page, refuses ids that go backwards."""
        items: list[object] = []
        after = 0
        for _ in range(max_pages):
            call = self._api.object_query(obj, id_greater_than=after)
            envelope = self._execute(call)
            with self._scrubbing(call):
                page, _ = self._api.decode_query_page(obj, envelope)
                ids = [
                    decode.as_int(dict(item).get("id") if isinstance(item, Mapping) else None, f"{obj}.id")
                    for item in page
                ]
            if not page:
                return items
            if min(ids) <= after:
                raise ApiProtocolError(f"{obj} query went backwards (id {min(ids)} after {after})")
            items.extend(page)
            if len(page) < endpoints.QUERY_PAGE:
                return items
            after = max(ids)
        raise ApiProtocolError(f"{obj} query did not end after {max_pages} pages")

    # --- v5 list emails (reconcile) -------------------------------------------------------

    def query_list_emails_v5(self, *, page_token: str | None = None) -> tuple[list[ListEmailSummary], str | None]:
        """One page of v5 list emails (newest id first); the token of the next page, or None."""
        call = endpoints.list_emails_v5_query(page_token=page_token)
        envelope = self._execute(call)
        with self._scrubbing(call):
            emails, _ = decode.decode_list_emails_v5(envelope.data)
            return emails, self._next_token(call, envelope)

    def query_list_emails_v5_since(
        self, created_since: datetime | None, *, page_token: str | None = None
    ) -> tuple[list[ListEmailSummary], str | None]:
        """One page (200) of the v5 list emails created at or after ``created_since``, oldest id
        first, the recycle bin included, with ``subject``, ``sentAt`` and the list ids of
        ``recipientLists`` / ``suppressionLists`` (None when not given); the next page's token.

        The next page is named by ``nextPageToken``, or by ``nextPageUrl`` alone (a client that
        ignored it would stop after page one): that URL is not requested as given, its token is
        taken, after checking it points at this API's own list-email query, so the credentials
        never go anywhere else.
        """
        # Whole seconds, floored (an earlier start only reads more): the page shows no fractions.
        since = None if created_since is None else created_since.astimezone(UTC).replace(microsecond=0).isoformat()
        call = endpoints.list_emails_v5_since(since, page_token=page_token, lists=self._refresh_lists)
        try:
            envelope = self._execute(call)
        except ApiError as exc:
            if not (self._refresh_lists and page_token is None and _refuses_list_fields(exc)):
                raise
            # The lists' fields are documented but their shape is not (docs/wire-format.md,
            # "Refresh"): a query that refuses them is asked again without, and the lists of
            # every email this client reads are "not checked" rather than the refresh failing.
            logger.warning("%s refused recipientLists/suppressionLists; lists not checked: %s", call.name, exc)
            self._refresh_lists = False
            call = endpoints.list_emails_v5_since(since, lists=False)
            envelope = self._execute(call)
        with self._scrubbing(call):
            emails, _ = decode.decode_list_emails_v5(envelope.data)
            return emails, self._next_token(call, envelope)

    def _next_token(self, call: Call, envelope: Envelope) -> str | None:
        """The next page of a v5 query: ``nextPageToken``, or the token inside ``nextPageUrl``
        alone (a client that ignored it would stop after page one). That URL is not requested as
        given: its token is taken, after checking it points at this same query, so the
        credentials never go anywhere else. None for a v3/v4 call."""
        if not call.is_v5 or not isinstance(envelope.data, Mapping):
            return None
        token = envelope.data.get("nextPageToken")
        if token not in (None, ""):
            return str(token)
        return self._token_of_next_url(envelope.data.get("nextPageUrl"), call.path)

    def _token_of_next_url(self, url: object, path: str) -> str | None:
        if url in (None, ""):
            return None
        text = str(url)
        root = self._settings.api_root
        try:
            same = _origin(text) == _origin(root) and urlsplit(text).path == urlsplit(root).path.rstrip("/") + path
        except ValueError:
            same = False
        tokens = parse_qs(urlsplit(text).query).get("nextPageToken", [])
        if not same or len(tokens) != 1:
            raise ApiProtocolError(f"the {path} answer names a next page elsewhere: {text[:200]!r}")
        return tokens[0]

    def read_list_email_v5(self, email_id: int) -> ListEmailSummary:
        """One v5 list email by id; ApiNotFound (HTTP 404) when v5 does not know it."""
        call = endpoints.list_email_v5_read(email_id)
        envelope = self._execute(call)
        with self._scrubbing(call):
            emails, _ = decode.decode_list_emails_v5({"values": [dict(envelope.data)]})
            return emails[0]

    def read_list_email_lists_v5(self, email_id: int) -> list_email_lists_v5.EmailLists:
        """The recipient and suppression lists of a v5 list email, as its read-only fields give
        them (:mod:`.list_email_lists_v5`); ApiError when the read is refused."""
        call = list_email_lists_v5.list_email_lists_read(email_id)
        envelope = self._execute(call)
        return list_email_lists_v5.decode_email_lists(envelope.data)

    def query_emails_v5_since(
        self, sent_since: datetime, *, page_token: str | None = None
    ) -> tuple[list[OneToOneEmailSummary], str | None]:
        """One page (200) of the v5 one-to-one emails sent at or after ``sent_since``, oldest id
        first, the recycle bin included; the next page's token (or nextPageUrl's), or None.

        Available under any configured version: v5 serves every account (docs/wire-format.md,
        "Reconciling unknown sends").
        """
        since = sent_since.astimezone(UTC).replace(microsecond=0).isoformat()
        call = endpoints.emails_v5_sent_since(since, page_token=page_token)
        envelope = self._execute(call)
        with self._scrubbing(call):
            emails, _ = decode.decode_one_to_one_emails_v5(envelope.data)
            return emails, self._next_token(call, envelope)

    def read_one_to_one_email_v5(self, email_id: int) -> Email:
        """One v5 one-to-one email by id; ApiNotFound (HTTP 404) when v5 does not know it."""
        call = endpoints.email_v5_read(email_id, one_to_one=True, include_message=False)
        envelope = self._execute(call)
        with self._scrubbing(call):
            return decode.decode_email_v5(envelope.data, one_to_one=True)

    # --- v5 email templates (orchestrator/pardot/templates_v5.py) ---------------------------

    def create_template_v5(self, body: Mapping[str, Any]) -> RemoteTemplate:
        """Create an email template through v5; the template as Pardot now holds it."""
        call = templates_v5.template_create(body)
        envelope = self._execute(call)
        with self._scrubbing(call):
            return templates_v5.decode_template(envelope.data)

    def update_template_v5(self, template_id: int, body: Mapping[str, Any]) -> RemoteTemplate:
        """Update (PATCH) the fields in ``body`` of a template; ApiNotFound when it is gone."""
        call = templates_v5.template_update(template_id, body)
        envelope = self._execute(call)
        with self._scrubbing(call):
            return templates_v5.decode_template(envelope.data)

    def read_template_v5(self, template_id: int) -> RemoteTemplate:
        """One template through v5; ApiNotFound (HTTP 404) when v5 does not know it."""
        call = templates_v5.template_read_v5(template_id)
        envelope = self._execute(call)
        with self._scrubbing(call):
            return templates_v5.decode_template(envelope.data)

    def query_templates_v5(self, page_token: str | None = None) -> tuple[list[RemoteTemplate], str | None]:
        """One page of templates, lowest id first, and the next page's token (``nextPageUrl``
        alone names one too, as for every v5 query)."""
        call = templates_v5.template_query(page_token)
        envelope = self._execute(call)
        with self._scrubbing(call):
            return templates_v5.decode_template_page(envelope.data), self._next_token(call, envelope)

    # --- exports --------------------------------------------------------------------------

    def export_create(
        self,
        object: str,
        procedure: str,
        arguments: Mapping[str, str],
        fields: Sequence[str] | None = None,
    ) -> ExportJob:
        """Start an export job. Retried like a read: a duplicate export sends nothing."""
        call = self._api.export_create(object, procedure, arguments, fields)
        return self._decode_export(call, self._execute(call))

    def export_read(self, export_id: int) -> ExportJob:
        """An export job's state, and its result URLs once complete."""
        call = self._api.export_read(export_id)
        return self._decode_export(call, self._execute(call))

    def export_query(
        self,
        *,
        created_after: str | None = None,
        created_before: str | None = None,
        updated_after: str | None = None,
        updated_before: str | None = None,
        status: str | None = None,
        object: str | None = None,
        sort_by: str | None = None,
        sort_order: str | None = None,
    ) -> ExportQueryResult:
        """Export jobs matching every given filter (None filters are not sent)."""
        filters = {
            "created_after": created_after,
            "created_before": created_before,
            "updated_after": updated_after,
            "updated_before": updated_before,
            "status": status,
            "object": object,
            "sort_by": sort_by,
            "sort_order": sort_order,
        }
        call = self._api.export_query(filters)
        envelope = self._execute(call)
        with self._scrubbing(call):
            return decode.decode_export_query(envelope.root("result"))

    def export_cancel(self, export_id: int) -> ExportJob:
        """Cancel an export that is not finished yet (178 when its state does not allow it)."""
        call = self._api.export_cancel(export_id)
        return self._decode_export(call, self._execute(call))

    def export_download(self, url: str) -> contextlib.AbstractContextManager[Iterator[bytes]]:
        """Stream one ``resultRefs`` file: ``with client.export_download(u) as chunks: ...``.

        Opening is retried like a read; a failure while streaming raises ApiTransientError
        (download the file again). The download holds one in-flight slot until the block
        ends, so do not nest more than ``max_in_flight`` of them.
        """
        return self._download(url)

    # --- the call pipeline ----------------------------------------------------------------

    def _retrying(self, call: Call, until: float | None) -> tenacity.Retrying:
        """Retries for ``call``, none of them starting (or sleeping) past ``until``."""

        def log_retry(state: tenacity.RetryCallState) -> None:
            if state.outcome is not None and until is not None and time.monotonic() + state.upcoming_sleep >= until:
                # No time left for another attempt after this wait: fail now, with the real error.
                state.outcome.result()
            error = state.outcome.exception() if state.outcome else None
            logger.info(
                "retrying %s after %s (attempt %d)",
                call.name,
                self._clean(call, f"{type(error).__name__}: {error}"),
                state.attempt_number,
            )

        return tenacity.Retrying(
            retry=tenacity.retry_if_exception(lambda error: _retryable(self._api, call, error)),
            stop=tenacity.stop_any(tenacity.stop_after_attempt(self._settings.max_retries + 1), _StopAt(until)),
            wait=self._retry_wait,
            sleep=self._sleep,
            reraise=True,
            before_sleep=log_retry,
        )

    def _execute(self, call: Call) -> Envelope:
        """Run ``call`` with retries and token refresh; return the successful envelope."""
        with self._scrubbing(call), deadline(self._settings.deadline_s) as until:
            return self._retrying(call, until)(lambda: self._with_auth(call, self._exchange))

    def _with_auth(self, call: Call, exchange: Callable[[Call, str], T]) -> T:
        """One attempt; when the token is refused (184 / 401), refresh it and try once more."""
        token = self._tokens.token()
        try:
            return exchange(call, token)
        except ApiAuthError as error:
            if not (_needs_refresh(error) and self._tokens.refreshable):
                raise
            logger.info("%s: access token refused; refreshing it once", call.name)
            return exchange(call, self._tokens.refresh(stale=token))

    def _exchange(self, call: Call, token: str) -> Envelope:
        """One HTTP exchange in an in-flight slot, interpreted into an envelope or an error."""
        request = self._build_request(call, token)
        with self._in_flight:
            response = self._send(call, request)
            try:
                body = self._read_body(call, response)
            finally:
                response.close()
        return self._interpret(call, response, body)

    def _send(self, call: Call, request: httpx.Request) -> httpx.Response:
        """The only place that touches the network for Pardot calls; the body is left unread."""
        response: httpx.Response | None = None
        with self._calls_lock:
            self._calls += 1
        try:
            with map_transport_errors(is_send=call.is_send, what=self._describe(call)):
                response = self._http.send(request, stream=True)
        finally:
            if self._tracer is not None:
                self._tracer(request, response)
        logger.debug("%s -> HTTP %d", self._describe(call), response.status_code)
        return response

    def _read_body(self, call: Call, response: httpx.Response) -> bytes:
        """The whole answer, at most ``max_response_bytes`` of it, before the deadline.

        Too large is a protocol error (not retried: the next answer would be as large); for a
        send it is an unknown outcome, since the request was written and may have been processed.
        """
        try:
            with map_transport_errors(is_send=call.is_send, what=self._describe(call)):
                return read_capped(response, self._settings.max_response_bytes)
        except BodyTooLarge as exc:
            if call.is_send:
                raise ApiOutcomeUnknown(
                    f"{self._describe(call)}: {exc}; the send may or may not have been processed",
                    http_status=response.status_code,
                ) from exc
            raise ApiProtocolError(f"{self._describe(call)}: {exc}", http_status=response.status_code) from exc

    def _build_request(self, call: Call, token: str) -> httpx.Request:
        headers = {
            "Authorization": f"Bearer {token}",
            "Pardot-Business-Unit-Id": self._settings.business_unit_id,
        }
        if call.path.startswith(("http://", "https://")):
            # A resultRefs URL is used exactly as Pardot gave it, query string included.
            return self._http.build_request(call.method, call.path, headers=headers)
        url = self._settings.api_root + call.path
        fmt = ("format", self._settings.format)
        if call.is_v5:
            json_body = dict(call.json) if call.json is not None else None
            return self._http.build_request(
                call.method, url, params=httpx.QueryParams(call.params), json=json_body, headers=headers
            )
        if call.method == "GET":
            return self._http.build_request("GET", url, params=httpx.QueryParams((*call.params, fmt)), headers=headers)
        if call.json is not None:
            return self._http.build_request(
                "POST",
                url,
                params=httpx.QueryParams((*call.params, fmt)),
                json=dict(call.json),
                headers=headers,
            )
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        body = urlencode([*call.params, fmt]).encode()
        return self._http.build_request("POST", url, content=body, headers=headers)

    def _interpret(self, call: Call, response: httpx.Response, body: bytes) -> Envelope:
        """Body first, status second: Pardot's status codes for errors are not documented."""
        try:
            envelope = parse_envelope(body)
        except ApiProtocolError as exc:
            raise self._api.error_for_status(response.status_code, exc.api_message, is_send=call.is_send) from exc
        if envelope.ok:
            return envelope
        failure = envelope.failures[0]
        message = "; ".join(f.message for f in envelope.failures)
        if failure.code is None and (response.status_code == 401 or response.status_code >= 500):
            raise self._api.error_for_status(response.status_code, message, is_send=call.is_send)
        raise self._api.error_for_code(
            failure.code, message, http_status=response.status_code, is_send=call.is_send, call=call
        )

    def _decode_send(self, call: Call, envelope: Envelope) -> Email:
        """Pardot said ok, so the email exists: an unreadable answer is an unknown outcome."""
        with self._scrubbing(call):
            try:
                return self._api.decode_sent(call, envelope)
            except ApiProtocolError as exc:
                raise ApiOutcomeUnknown(
                    f"{call.name}: Pardot accepted the send but its answer could not be read ({exc.api_message})"
                ) from exc

    def _decode_export(self, call: Call, envelope: Envelope) -> ExportJob:
        with self._scrubbing(call):
            return decode.decode_export(envelope.data)

    # --- export download ------------------------------------------------------------------

    @contextlib.contextmanager
    def _download(self, url: str) -> Iterator[Iterator[bytes]]:
        call = Call("export.download", "GET", self._check_download_url(url))
        with (
            self._scrubbing(call),
            self._in_flight,
            deadline(self._settings.download_deadline_s) as until,
        ):
            response = self._retrying(call, until)(lambda: self._with_auth(call, self._open_download))
            try:
                yield self._chunks(call, response)
            finally:
                response.close()

    def _check_download_url(self, url: str) -> str:
        """Send our token only to the API's own origin or Pardot's documented download origin.

        Scheme, host and port must all match: the same host on another port is another server
        (anyone on the machine can listen there). ``https://www.pardot.com`` is the host of the
        download URLs in Pardot's v4 Export API documentation
        (https://developer.salesforce.com/docs/marketing/pardot/guide/export-v4.html, the
        ``resultRefs`` example; see /work/shared/reference/pardot-api.md §1.6).
        """
        try:
            check_transport_security(url, "resultRefs URL", allow_insecure=self._settings.allow_insecure)
            origin = _origin(url)
        except (ConfigError, ValueError) as exc:
            message = exc.message if isinstance(exc, ConfigError) else "resultRefs URL has an invalid port"
            raise ApiProtocolError(message) from exc
        own = _origin(self._settings.base_url)
        if origin not in (own, DOWNLOAD_ORIGIN):
            raise ApiProtocolError(
                f"refusing to send credentials to {_show_origin(origin)!r}: a resultRefs URL must be on "
                f"the API's origin {_show_origin(own)} or Pardot's download origin {_show_origin(DOWNLOAD_ORIGIN)}"
            )
        return url

    def _open_download(self, call: Call, token: str) -> httpx.Response:
        """Open the stream; an error answer (178 expired, 184, ...) is read (capped) and mapped."""
        response = self._send(call, self._build_request(call, token))
        content_type = response.headers.get("content-type", "").lower()
        if response.status_code == 200 and not any(t in content_type for t in _ENVELOPE_TYPES):
            return response
        try:
            body = self._read_body(call, response)
        finally:
            response.close()
        self._interpret(call, response, body)
        raise ApiProtocolError(
            f"download answered HTTP {response.status_code} ({content_type[:60]!r}) instead of a file",
            http_status=response.status_code,
        )

    def _chunks(self, call: Call, response: httpx.Response) -> Iterator[bytes]:
        with map_transport_errors(is_send=False, what=self._describe(call)):
            for chunk in response.iter_bytes():
                yield chunk
                check_deadline()

    # --- hygiene --------------------------------------------------------------------------

    def _describe(self, call: Call) -> str:
        """``METHOD path`` for messages and logs: no query string, addresses masked."""
        path = urlsplit(call.path).path if call.path.startswith("http") else call.path
        text = f"{call.method} {path}"
        return mask_emails(text) if call.masks_emails else text

    def _clean(self, call: Call, text: str) -> str:
        text = redact(text, self._tokens.secrets())
        return mask_emails(text) if call.masks_emails else text

    @contextlib.contextmanager
    def _scrubbing(self, call: Call) -> Iterator[None]:
        """Scrub every ApiError leaving the block, in place so its cause and traceback stay."""
        try:
            yield
        except ApiError as error:
            error.api_message = self._clean(call, error.api_message)
            error.message = self._clean(call, error.message)
            error.args = (error.message,)
            raise
