"""Pardot (Salesforce Account Engagement) v3/v4 API client.

The public face of the package; see :mod:`.client` for how calls are made and retried, and
``docs/wire-format.md`` for the wire format it speaks.

The face is lazy (PEP 562): naming ``orchestrator.pardot.models`` or a settings class does not
load httpx and tenacity; :class:`PardotClient` loads them when first named.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from orchestrator.lazy import lazy_getattr

if TYPE_CHECKING:
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

_MODELS = [
    "EXPORT_STATES",
    "Email",
    "EmailStats",
    "EmailTemplate",
    "EmailTemplateSummary",
    "ExportJob",
    "ExportQueryResult",
    "ListEmailSend",
    "OneToOneSend",
]
_SETTINGS = [
    "ApiSettings",
    "AuthSettings",
    "ClientCredentialsAuth",
    "RefreshTokenAuth",
    "StaticTokenAuth",
    "TokenAuth",
]
#: Where each name lives, loaded on first use.
_LAZY = {
    "PardotClient": "orchestrator.pardot.client",
    **dict.fromkeys(_MODELS, "orchestrator.pardot.models"),
    **dict.fromkeys(_SETTINGS, "orchestrator.pardot.settings"),
}


__getattr__ = lazy_getattr(__name__, _LAZY, globals())
