"""What the Export API offers per object: procedures, their arguments, and exportable fields.

Procedures and arguments follow the seed document exactly; the field lists are the sandbox's
(Pardot links to its object field references). Each field maps to an SQL expression over the
sandbox table or view that holds that object's rows; ``NULL`` marks fields the sandbox does not
model (exported as empty values).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

ArgKind = Literal["after", "before", "deleted", "boolean", "types"]

#: Pardot's cap on the number of fields in one export.
MAX_FIELDS = 150


@dataclass(frozen=True)
class ArgSpec:
    """One procedure argument: what it filters (``column``) and how its value is read."""

    kind: ArgKind
    column: str
    required: bool = False


@dataclass(frozen=True)
class ObjectSpec:
    """An exportable object: its row source, its fields, its procedures."""

    source: str
    fields: Mapping[str, str]
    procedures: Mapping[str, Mapping[str, ArgSpec]]


def _after(column: str) -> ArgSpec:
    return ArgSpec("after", column, required=True)


def _before(column: str) -> ArgSpec:
    return ArgSpec("before", column)


def _fields(*names: str, **expressions: str) -> Mapping[str, str]:
    mapping = {name: name for name in names}
    mapping.update(expressions)
    return MappingProxyType(mapping)


def _procedures(**procs: dict[str, ArgSpec]) -> Mapping[str, Mapping[str, ArgSpec]]:
    return MappingProxyType({name: MappingProxyType(args) for name, args in procs.items()})


_VISITOR_ACTIVITY_ONLY = ArgSpec("boolean", "prospect_id")

OBJECTS: Mapping[str, ObjectSpec] = MappingProxyType(
    {
        "visitorActivity": ObjectSpec(
            source="visitor_activities",
            fields=_fields(
                "id", "prospect_id", "visitor_id", "type", "type_name", "details", "email_id",
                "email_template_id", "list_email_id", "campaign_id", "created_at", "updated_at",
                form_id="NULL", form_handler_id="NULL", landing_page_id="NULL",
                custom_redirect_id="NULL", file_id="NULL", opportunity_id="NULL",
                paid_search_id_id="NULL", multivariate_test_variation_id="NULL",
                visitor_page_view_id="NULL", site_search_query_id="NULL",
            ),
            procedures=_procedures(
                filter_by_created_at={
                    "created_after": _after("created_at"),
                    "created_before": _before("created_at"),
                    "type": ArgSpec("types", "type"),
                    "prospect_only": _VISITOR_ACTIVITY_ONLY,
                },
                filter_by_updated_at={
                    "updated_after": _after("updated_at"),
                    "updated_before": _before("updated_at"),
                    "type": ArgSpec("types", "type"),
                    # The seed spells it prospectOnly here; the 2021 docs prospect_only.
                    "prospectOnly": _VISITOR_ACTIVITY_ONLY,
                    "prospect_only": _VISITOR_ACTIVITY_ONLY,
                },
            ),
        ),
        "listMembership": ObjectSpec(
            source="list_members",
            fields=_fields("id", "list_id", "prospect_id", "opted_out", "created_at", "updated_at"),
            procedures=_procedures(
                filter_by_created_at={
                    "created_after": _after("created_at"),
                    "created_before": _before("created_at"),
                    "deleted": ArgSpec("deleted", "deleted"),
                },
                filter_by_updated_at={
                    "updated_after": _after("updated_at"),
                    "updated_before": _before("updated_at"),
                    "deleted": ArgSpec("deleted", "deleted"),
                },
            ),
        ),
        "prospect": ObjectSpec(
            source="prospects",
            fields=_fields(
                "id", "email", "first_name", "last_name", "company", "opted_out",
                "created_at", "updated_at",
                campaign_id="NULL", salutation="NULL", job_title="NULL", phone="NULL",
                website="NULL", country="NULL", score="0", grade="NULL",
                is_do_not_email="0", is_do_not_call="0", last_activity_at="NULL",
                is_deleted="deleted",
            ),
            procedures=_procedures(
                filter_by_updated_at={
                    "updated_after": _after("updated_at"),
                    "updated_before": _before("updated_at"),
                },
                filter_by_created_at={
                    "created_after": _after("created_at"),
                    "created_before": _before("created_at"),
                    "deleted": ArgSpec("deleted", "deleted"),
                },
            ),
        ),
        "prospectAccount": ObjectSpec(
            source="prospect_accounts",
            fields=_fields(
                "id", "name", "annual_revenue", "industry", "number_of_employees", "website",
                "created_at", "updated_at",
            ),
            procedures=_procedures(
                filter_by_prospect_updated_at={
                    "prospect_updated_after": _after("prospect_updated_at"),
                    "prospect_updated_before": _before("prospect_updated_at"),
                    "prospect_deleted": ArgSpec("deleted", "prospect_deleted"),
                },
                filter_by_updated_at={
                    "updated_after": _after("updated_at"),
                    "updated_before": _before("updated_at"),
                    "deleted": ArgSpec("deleted", "deleted"),
                },
            ),
        ),
        "visitor": ObjectSpec(
            source="visitors",
            fields=_fields(
                "id", "prospect_id", "page_view_count", "ip_address", "hostname", "campaign_id",
                "created_at", "updated_at",
            ),
            procedures=_procedures(
                filter_by_prospect_updated_at={
                    "prospect_updated_after": _after("prospect_updated_at"),
                    "prospect_updated_before": _before("prospect_updated_at"),
                    "prospect_deleted": ArgSpec("deleted", "prospect_deleted"),
                },
                filter_by_updated_at={
                    "updated_after": _after("updated_at"),
                    "updated_before": _before("updated_at"),
                    "deleted": ArgSpec("deleted", "deleted"),
                },
            ),
        ),
        "externalActivity": ObjectSpec(
            source="external_activities",
            fields=_fields(
                "id", "extension", "type", "value",
                extensionSalesforceId="extension_salesforce_id",
                typeSalesforceId="type_salesforce_id",
                prospectId="prospect_id",
                activityDate="activity_date",
                createdAt="created_at",
                createdById="created_by_id",
            ),
            procedures=_procedures(
                filter_by_created_at={
                    "created_after": _after("created_at"),
                    "created_before": _before("created_at"),
                },
                filter_by_activity_date={
                    "activity_after": _after("activity_date"),
                    "activity_before": _before("activity_date"),
                },
            ),
        ),
    }
)
