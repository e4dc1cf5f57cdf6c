"""The Export API's objects, procedures, arguments and fields: the client-side source of truth.

Everything an export request can name is checked against these tables *before* any API call,
so a typo costs no API call (exports count against the daily limit) and the message can list
what is valid.  The tables follow the seed document's Export section
(``shared/seeds/000_*.txt``); where it disagrees with ``shared/reference/pardot-api.md`` the seed
wins and the difference is noted beside the entry.

Field lists are the objects' own fields as the v3/v4 "Object Field References" name them
(snake_case: ``prospect_id``), plus the few the sandbox also models (``updated_at`` on visitor
activities, ``is_deleted`` on prospects); External Activity's come from the seed, which names
them in camelCase.  Relationship fields (``campaign.name``) and account-specific custom fields
are not accepted: the v3/v4 Export API documents neither.  A test checks that every field,
procedure and argument the sandbox offers is in these tables.

Names are compared after :func:`canonical_name`, so ``visitor-activity``, ``visitor_activity``,
``visitorActivity`` and ``Visitor Activity`` all name the same object; the wire always gets the
exact spelling from the table.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from orchestrator.errors import ExportError

#: The Export API refuses more fields than this in one export (seed, "Export API Overview").
MAX_FIELDS = 150

#: A date range may span at most this many calendar years (``before <= after + 1 year`` on the
#: project time zone's calendar).  ``--split`` windows are shorter still: see windows.py.
MAX_RANGE_YEARS = 1

#: Export states, as the API spells them.
STATES = ("Waiting", "Processing", "Complete", "Failed", "Canceled")

#: States the query endpoint's ``status`` filter accepts (the seed omits Canceled there).
QUERY_STATUSES = ("Complete", "Failed", "Processing", "Waiting")

#: Values of the query endpoint's ``sort_by`` and ``sort_order``.
SORT_BY = ("id", "created_at", "updated_at")
SORT_ORDER = ("ascending", "descending")


class ArgumentKind(enum.Enum):
    """What values a procedure argument takes; each kind has one checker in request.py."""

    DATE = "date"  # today, yesterday, last_7_days, this_month, last_month or a date expression
    DELETED = "deleted"  # true, false or all
    BOOLEAN = "boolean"  # true or false
    ACTIVITY_TYPES = "activity types"  # comma-separated visitor activity type numbers


@dataclass(frozen=True)
class ArgumentSpec:
    """One argument of a procedure: its wire name, kind, and whether it must be given."""

    name: str
    kind: ArgumentKind
    required: bool = False


@dataclass(frozen=True)
class ProcedureSpec:
    """A procedure: a named query over one object, with its arguments.

    ``range_args`` names the ``(after, before)`` date pair that the one-year rule and
    ``--split`` apply to; every documented procedure has one.
    """

    name: str
    arguments: tuple[ArgumentSpec, ...]
    range_args: tuple[str, str]

    def argument(self, name: str) -> ArgumentSpec | None:
        """The argument spelled ``name`` (already canonical), or None."""
        return next((a for a in self.arguments if a.name == name), None)

    @property
    def argument_names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.arguments)


@dataclass(frozen=True)
class ExportObject:
    """An exportable object: wire name, human label, own fields and procedures."""

    wire_name: str
    label: str
    fields: tuple[str, ...]
    procedures: tuple[ProcedureSpec, ...]

    def procedure(self, name: str) -> ProcedureSpec:
        """The procedure called ``name`` (any spelling), else ExportError listing the valid ones."""
        wanted = canonical_name(name)
        for proc in self.procedures:
            if proc.name == wanted:
                return proc
        raise ExportError(
            f"unknown procedure {name!r} for {self.wire_name}; "
            f"valid procedures: {', '.join(p.name for p in self.procedures)}"
        )


def _range_procedure(
    name: str, after: str, before: str, *extra: ArgumentSpec
) -> ProcedureSpec:
    """A procedure whose first two arguments are a required ``after`` and optional ``before``."""
    return ProcedureSpec(
        name=name,
        arguments=(
            ArgumentSpec(after, ArgumentKind.DATE, required=True),
            ArgumentSpec(before, ArgumentKind.DATE),
            *extra,
        ),
        range_args=(after, before),
    )


_DELETED = ArgumentSpec("deleted", ArgumentKind.DELETED)
_PROSPECT_DELETED = ArgumentSpec("prospect_deleted", ArgumentKind.DELETED)
_TYPE = ArgumentSpec("type", ArgumentKind.ACTIVITY_TYPES)
# The seed spells it prospect_only for filter_by_created_at and prospectOnly for
# filter_by_updated_at; canonical_name() makes both one argument, sent as prospect_only.
_PROSPECT_ONLY = ArgumentSpec("prospect_only", ArgumentKind.BOOLEAN)

_VISITOR_ACTIVITY_FIELDS = (
    "id", "prospect_id", "visitor_id", "type", "type_name", "details", "email_id",
    "email_template_id", "list_email_id", "form_id", "form_handler_id", "site_search_query_id",
    "landing_page_id", "paid_search_id_id", "multivariate_test_variation_id",
    "visitor_page_view_id", "file_id", "custom_redirect_id", "opportunity_id", "campaign_id",
    "created_at", "updated_at",
)  # fmt: skip

_LIST_MEMBERSHIP_FIELDS = (
    "id", "list_id", "prospect_id", "opted_out", "created_at", "updated_at",
)  # fmt: skip

# ``password`` is in the v3/v4 table but is not data anyone should export; it is left out.
_PROSPECT_FIELDS = (
    "id", "campaign_id", "salutation", "first_name", "last_name", "email", "company",
    "prospect_account_id", "website", "job_title", "department", "country", "address_one",
    "address_two", "city", "state", "territory", "zip", "phone", "fax", "source",
    "annual_revenue", "employees", "industry", "years_in_business", "comments", "notes",
    "score", "grade", "last_activity_at", "recent_interaction", "crm_lead_fid",
    "crm_contact_fid", "crm_owner_fid", "crm_account_fid", "crm_last_sync", "crm_url",
    "is_do_not_email", "is_do_not_call", "opted_out", "is_reviewed", "is_starred", "is_deleted",
    "created_at", "updated_at",
)  # fmt: skip

# Prospect account fields are customisable per account; these are the standard ones.
_PROSPECT_ACCOUNT_FIELDS = (
    "id", "name", "annual_revenue", "industry", "number_of_employees", "website",
    "created_at", "updated_at",
)  # fmt: skip

_VISITOR_FIELDS = (
    "id", "prospect_id", "page_view_count", "ip_address", "hostname", "campaign_id",
    "campaign_parameter", "medium_parameter", "source_parameter", "content_parameter",
    "term_parameter", "created_at", "updated_at",
)  # fmt: skip

# The seed's table, in order (it prints ``value`` twice; once is enough).  External Activity is
# the one object documented with camelCase names.
_EXTERNAL_ACTIVITY_FIELDS = (
    "id", "extension", "extensionSalesforceId", "type", "typeSalesforceId", "prospectId",
    "value", "activityDate", "createdAt", "createdById",
)  # fmt: skip

OBJECTS: tuple[ExportObject, ...] = (
    ExportObject(
        "visitorActivity",
        "visitor activity",
        _VISITOR_ACTIVITY_FIELDS,
        (
            _range_procedure("filter_by_created_at", "created_after", "created_before",
                             _TYPE, _PROSPECT_ONLY),
            _range_procedure("filter_by_updated_at", "updated_after", "updated_before",
                             _TYPE, _PROSPECT_ONLY),
        ),
    ),
    ExportObject(
        "listMembership",
        "list membership",
        _LIST_MEMBERSHIP_FIELDS,
        (
            _range_procedure("filter_by_created_at", "created_after", "created_before", _DELETED),
            _range_procedure("filter_by_updated_at", "updated_after", "updated_before", _DELETED),
        ),
    ),
    ExportObject(
        "prospect",
        "prospect",
        _PROSPECT_FIELDS,
        (
            # The seed gives filter_by_updated_at no ``deleted`` argument (the 2021 reference
            # table lists one); the seed is the contract, so it is refused here.
            _range_procedure("filter_by_updated_at", "updated_after", "updated_before"),
            _range_procedure("filter_by_created_at", "created_after", "created_before", _DELETED),
        ),
    ),
    ExportObject(
        "prospectAccount",
        "prospect account",
        _PROSPECT_ACCOUNT_FIELDS,
        (
            _range_procedure("filter_by_prospect_updated_at", "prospect_updated_after",
                             "prospect_updated_before", _PROSPECT_DELETED),
            _range_procedure("filter_by_updated_at", "updated_after", "updated_before", _DELETED),
        ),
    ),
    ExportObject(
        "visitor",
        "visitor",
        _VISITOR_FIELDS,
        (
            _range_procedure("filter_by_prospect_updated_at", "prospect_updated_after",
                             "prospect_updated_before", _PROSPECT_DELETED),
            _range_procedure("filter_by_updated_at", "updated_after", "updated_before", _DELETED),
        ),
    ),
    ExportObject(
        "externalActivity",
        "external activity",
        _EXTERNAL_ACTIVITY_FIELDS,
        (
            _range_procedure("filter_by_created_at", "created_after", "created_before"),
            _range_procedure("filter_by_activity_date", "activity_after", "activity_before"),
        ),
    ),
)  # fmt: skip

_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SEPARATORS = re.compile(r"[\s\-_]+")


def canonical_name(text: str) -> str:
    """``visitorActivity``, ``visitor-activity``, ``Visitor Activity`` -> ``visitor_activity``.

    One spelling-insensitive key lets the CLI accept what people type while the wire gets the
    table's exact name.
    """
    snake = _CAMEL_BOUNDARY.sub("_", text.strip())
    return _SEPARATORS.sub("_", snake).strip("_").lower()


_BY_CANONICAL = {canonical_name(o.wire_name): o for o in OBJECTS}


def find_object(name: str) -> ExportObject:
    """The object ``name`` designates (any spelling), or an ExportError listing the valid ones."""
    found = _BY_CANONICAL.get(canonical_name(name))
    if found is None:
        raise ExportError(
            f"unknown export object {name!r}; valid objects: "
            + ", ".join(o.wire_name for o in OBJECTS)
        )
    return found
