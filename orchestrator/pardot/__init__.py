"""Pardot (Salesforce Account Engagement) v3/v4 API client.

The public face of the package; see :mod:`.client` for how calls are made and retried, and
``docs/wire-format.md`` for the wire format it speaks.
"""

from orchestrator.pardot.client import PardotClient
from orchestrator.pardot.models import (
    EXPORT_STATES,
    Email,
    EmailStats,
    EmailTemplate,
    EmailTemplateSummary,
    ExportJob,
    ExportQueryResult,
    ListEmailSend,
    OneToOneSend,
)
from orchestrator.pardot.settings import (
    ApiSettings,
    AuthSettings,
    ClientCredentialsAuth,
    RefreshTokenAuth,
    StaticTokenAuth,
    TokenAuth,
)

__all__ = [
    "EXPORT_STATES",
    "ApiSettings",
    "AuthSettings",
    "ClientCredentialsAuth",
    "Email",
    "EmailStats",
    "EmailTemplate",
    "EmailTemplateSummary",
    "ExportJob",
    "ExportQueryResult",
    "ListEmailSend",
    "OneToOneSend",
    "PardotClient",
    "RefreshTokenAuth",
    "StaticTokenAuth",
    "TokenAuth",
]
