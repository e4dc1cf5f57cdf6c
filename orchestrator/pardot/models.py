"""The values the Pardot client sends and returns, as frozen dataclasses.

Requests (:class:`ListEmailSend`, :class:`OneToOneSend`) know how to check themselves against
the seed's "three ways of satisfying the required fields" and how to become form parameters;
a request that Pardot would refuse for a missing field is refused here first, before anything
irreversible is attempted. Responses are plain values decoded by :mod:`.decode`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from orchestrator.errors import ApiValidationError

__all__ = [
    "EXPORT_STATES",
    "Campaign",
    "Email",
    "EmailStats",
    "EmailTemplate",
    "EmailTemplateSummary",
    "ExportJob",
    "ExportQueryResult",
    "ListEmailSend",
    "ListEmailSummary",
    "OneToOneEmailSummary",
    "OneToOneSend",
    "PardotList",
    "User",
]

#: Every state an export job can be in (seed, "Export State").
EXPORT_STATES = ("Waiting", "Processing", "Complete", "Failed", "Canceled")

#: The ten counters of a stats answer, in the seed's order.
STATS_COUNT_FIELDS: tuple[str, ...] = (
    "sent",
    "delivered",
    "total_clicks",
    "unique_clicks",
    "soft_bounced",
    "hard_bounced",
    "opt_outs",
    "spam_complaints",
    "opens",
    "unique_opens",
)
#: The seven rates, percentages as numbers (98.42 means 98.42 %).
STATS_RATE_FIELDS: tuple[str, ...] = (
    "delivery_rate",
    "opens_rate",
    "click_through_rate",
    "unique_click_through_rate",
    "click_open_ratio",
    "opt_out_rate",
    "spam_complaint_rate",
)
#: Every figure of a stats answer (10 counts, 7 rates).
_STATS_FIELDS = STATS_COUNT_FIELDS + STATS_RATE_FIELDS

_REQUIRED_FIELDS_HELP = (
    "give email_template_id, or text_content + name + subject with either from_email + from_name or from_user_id"
)


def _missing_content(
    *,
    email_template_id: int | None,
    text_content: str | None,
    name: str | None,
    subject: str | None,
    from_email: str | None,
    from_name: str | None,
    from_user_id: int | None,
) -> list[str]:
    """Fields missing from the best-matching of the seed's three required-field combinations.

    An empty list means one combination is satisfied: (1) a template; (2) text, name, subject,
    from_email and from_name; (3) text, name, subject and from_user_id.
    """
    if email_template_id is not None:
        return []
    missing = [
        key for key, value in (("text_content", text_content), ("name", name), ("subject", subject)) if not value
    ]
    if from_user_id is None and not (from_email and from_name):
        sender = [k for k, v in (("from_email", from_email), ("from_name", from_name)) if not v]
        missing.append(" + ".join(sender) + " (or from_user_id)")
    return missing


def _bool_params(pairs: tuple[tuple[str, bool], ...]) -> list[tuple[str, str]]:
    """Booleans go on the wire as ``true`` only when set: Pardot's default is false."""
    return [(key, "true") for key, value in pairs if value]


def _optional_params(pairs: tuple[tuple[str, object | None], ...]) -> list[tuple[str, str]]:
    return [(key, str(value)) for key, value in pairs if value is not None]


@dataclass(frozen=True, kw_only=True)
class EmailContent:
    """What both kinds of send carry: content, sender, tags and flags (all optional on the wire).

    Pardot accepts a send when one of three combinations is present: a template; or text,
    name, subject, ``from_email`` and ``from_name``; or text, name, subject and ``from_user_id``.
    """

    name: str | None = None
    subject: str | None = None
    text_content: str | None = None
    html_content: str | None = None
    email_template_id: int | None = None
    from_name: str | None = None
    from_email: str | None = None
    from_user_id: int | None = None
    from_assigned_user: bool = False
    from_account_owner: bool = False
    replyto_email: str | None = None
    tags: tuple[str, ...] = ()
    operational_email: bool = False

    def missing_content(self) -> list[str]:
        """What is missing for every one of the three required-field combinations (empty: none)."""
        return _missing_content(
            email_template_id=self.email_template_id,
            text_content=self.text_content,
            name=self.name,
            subject=self.subject,
            from_email=self.from_email,
            from_name=self.from_name,
            from_user_id=self.from_user_id,
        )


@dataclass(frozen=True)
class ListEmailSend(EmailContent):
    """One list email: sent (or scheduled) to everyone on ``list_ids`` minus the suppressions."""

    campaign_id: int
    list_ids: tuple[int, ...]
    suppression_list_ids: tuple[int, ...] = ()
    scheduled_time: datetime | None = None

    def validate(self) -> None:
        """Raise ApiValidationError (code None) when Pardot would refuse this send as incomplete."""
        problems: list[str] = []
        if not self.list_ids:
            problems.append("list_ids (at least one list)")
        problems += self.missing_content()
        if problems:
            raise ApiValidationError("list email send is missing " + ", ".join(problems), hint=_REQUIRED_FIELDS_HELP)
        if self.scheduled_time is not None and self.scheduled_time.utcoffset() is None:
            raise ApiValidationError(
                "scheduled_time has no time zone; Pardot would guess one",
                hint="pass an aware datetime, e.g. with tzinfo=timezone.utc",
            )

    def to_params(self) -> list[tuple[str, str]]:
        """The form parameters of the send, in a stable order; validates first."""
        self.validate()
        params = [("campaign_id", str(self.campaign_id))]
        params += [("list_ids[]", str(i)) for i in self.list_ids]
        params += [("suppression_list_ids[]", str(i)) for i in self.suppression_list_ids]
        params += _content_params(self)
        params += [("tags[]", tag) for tag in self.tags]
        if self.scheduled_time is not None:
            params.append(("scheduled_time", self.scheduled_time.isoformat()))
        return params


@dataclass(frozen=True)
class OneToOneSend(EmailContent):
    """One email to one prospect, named by Pardot id or by email address (exactly one)."""

    campaign_id: int
    prospect_id: int | None = None
    prospect_email: str | None = None

    def validate(self) -> None:
        """Raise ApiValidationError (code None) when the send names no prospect or is incomplete."""
        if (self.prospect_id is None) == (self.prospect_email is None):
            raise ApiValidationError("one-to-one send needs exactly one of prospect_id or prospect_email")
        missing = self.missing_content()
        if missing:
            raise ApiValidationError("one-to-one send is missing " + ", ".join(missing), hint=_REQUIRED_FIELDS_HELP)

    def to_params(self) -> list[tuple[str, str]]:
        """Form parameters; the prospect goes in the URL path, not here. Validates first."""
        self.validate()
        params = [("campaign_id", str(self.campaign_id))]
        params += _content_params(self)
        params += [("tags[]", tag) for tag in self.tags]
        return params


def _content_params(send: EmailContent) -> list[tuple[str, str]]:
    """The content, sender and flag parameters both kinds of send share."""
    return _optional_params(
        (
            ("email_template_id", send.email_template_id),
            ("name", send.name),
            ("subject", send.subject),
            ("text_content", send.text_content),
            ("html_content", send.html_content),
            ("from_name", send.from_name),
            ("from_email", send.from_email),
            ("from_user_id", send.from_user_id),
            ("replyto_email", send.replyto_email),
        )
    ) + _bool_params(
        (
            ("from_assigned_user", send.from_assigned_user),
            ("from_account_owner", send.from_account_owner),
            ("operational_email", send.operational_email),
        )
    )


@dataclass(frozen=True)
class Email:
    """An email record as Pardot returns it from a send or a read.

    ``created_at`` is naive when Pardot gives ``YYYY-MM-DD HH:MM:SS``: that is the account's
    time zone, which the API does not name. ``text``/``html`` are None when the read asked for
    no message body.
    """

    id: int
    name: str
    subject: str
    text: str | None
    html: str | None
    created_at: datetime | None
    is_one_to_one: bool
    campaign_id: int | None
    scheduled_time: datetime | None


@dataclass(frozen=True)
class Prospect:
    """What a one-to-one send needs to know of its recipient before it is planned.

    ``opted_out`` and ``is_do_not_email`` are the v3/v4 prospect fields of those names (object
    field references, pardot/api-docs ``kb/object-field-references``): either makes Pardot refuse
    a one-to-one send (error 98 "Prospect not mailable", or 3 on send-by-email).
    """

    id: int
    email: str
    opted_out: bool
    is_do_not_email: bool
    first_name: str = ""
    last_name: str = ""
    company: str = ""

    @property
    def mailable(self) -> bool:
        return not (self.opted_out or self.is_do_not_email)


@dataclass(frozen=True)
class EmailStats:
    """Statistics of one list email; rates are percentages (``"98.42%"`` becomes ``98.42``).

    ``unknown`` names the figures Pardot did not give (``null`` in JSON, empty in XML, e.g. for
    an email that is only scheduled). They hold 0 so sums stay simple, and :meth:`figure`
    returns None for them, so output shows "—" rather than a zero that was never measured.
    """

    sent: int
    delivered: int
    total_clicks: int
    unique_clicks: int
    soft_bounced: int
    hard_bounced: int
    opt_outs: int
    spam_complaints: int
    opens: int
    unique_opens: int
    delivery_rate: float
    opens_rate: float
    click_through_rate: float
    unique_click_through_rate: float
    click_open_ratio: float
    opt_out_rate: float
    spam_complaint_rate: float
    unknown: frozenset[str] = frozenset()

    def figure(self, name: str) -> int | float | None:
        """The value of field ``name``, or None when Pardot did not give it."""
        value: int | float = getattr(self, name)
        return None if name in self.unknown else value

    @property
    def known(self) -> bool:
        """True when at least one figure was given (an all-unknown row has no statistics yet)."""
        return len(self.unknown) < len(_STATS_FIELDS)


@dataclass(frozen=True)
class EmailTemplate:
    """A full email template (read); ``send_from`` is the decoded sender hierarchy."""

    id: int
    name: str
    subject: str
    html: str
    text: str
    is_list_email: bool
    is_one_to_one_email: bool
    is_drip_email: bool
    is_autoresponder_email: bool
    is_archived: bool
    reply_to_address: str | None
    send_from: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class EmailTemplateSummary:
    """One entry of the one-to-one template list (no bodies)."""

    id: int
    name: str
    subject: str
    is_one_to_one_email: bool
    is_archived: bool
    is_autoresponder_email: bool
    is_drip_email: bool
    is_list_email: bool


@dataclass(frozen=True)
class ExportJob:
    """An export job; ``result_refs`` is always a tuple (absent → (), one string → 1-tuple).

    Timestamps stay strings: Pardot gives them in the requesting user's time zone, unnamed.
    """

    id: int
    state: str
    is_expired: bool
    result_refs: tuple[str, ...]
    created_at: str | None
    updated_at: str | None


@dataclass(frozen=True)
class ExportQueryResult:
    """The answer to an export query: the total and the jobs on this answer."""

    total_results: int
    exports: tuple[ExportJob, ...]


@dataclass(frozen=True)
class Campaign:
    """A Pardot campaign: the id every send names (read/query ``campaign``)."""

    id: int
    name: str


@dataclass(frozen=True)
class PardotList:
    """A Pardot list (recipient or suppression list); flags false when Pardot gives null."""

    id: int
    name: str
    is_dynamic: bool = False
    is_public: bool = False


@dataclass(frozen=True)
class User:
    """A Pardot user (a possible ``from_user_id``)."""

    id: int
    email: str
    first_name: str
    last_name: str

    @property
    def name(self) -> str:
        """``First Last``, or the address when both are empty."""
        return " ".join(p for p in (self.first_name, self.last_name) if p) or self.email


@dataclass(frozen=True)
class ListEmailSummary:
    """One v5 list email as the reconcile query sees it (``/api/v5/objects/list-emails``).

    ``created_at`` is aware (v5 DateTimes carry an offset); ``is_sent`` / ``is_deleted`` are
    False when Pardot gives null. ``recipient_list_ids`` / ``suppression_list_ids`` are the ids
    read from the read-only ``recipientLists`` / ``suppressionLists`` (asked for by the refresh
    query only); None when the answer did not give them (absent, null, or a shape the client
    cannot read), which means "not checked", never "none".
    """

    id: int
    name: str
    campaign_id: int | None
    created_at: datetime | None
    is_sent: bool
    is_deleted: bool
    subject: str | None = None  # asked for by the refresh query only
    sent_at: datetime | None = None  # aware; None while unsent (or not asked for)
    recipient_list_ids: frozenset[int] | None = None
    suppression_list_ids: frozenset[int] | None = None


@dataclass(frozen=True)
class OneToOneEmailSummary:
    """One v5 one-to-one email as the reconcile query sees it (``/api/v5/objects/emails``).

    ``sent_at`` is aware, None while the email waits; ``prospect_id`` None when not asked for.
    """

    id: int
    name: str
    campaign_id: int | None
    prospect_id: int | None
    sent_at: datetime | None
