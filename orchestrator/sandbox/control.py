"""Who may reach the sandbox over HTTP, and how much one request may carry (issue 17).

``sandbox serve`` listens on loopback, which a web page in the user's browser can still reach:
a simple cross-site POST needs no preflight, and by DNS rebinding a page's own name can point at
127.0.0.1 and read the answers. So, on a real server:

* every ``/_sandbox/`` route requires a ``Host`` that is a loopback name or address with the
  server's own port (a rebound page sends its own name);
* the state-changing ones (``POST`` clock, ``DELETE`` email) also require the sandbox's bearer
  token, the API's own, and a ``POST`` must be ``application/json`` (which a page can only send
  after a CORS preflight the sandbox never grants);
* ``/api/`` routes require a ``Host`` that is ``localhost`` or an IP address (a page's name
  never is), so a rebound page cannot send with the well-known default token either; other
  machines reach a server listening on them by its address.

The in-process transport has no socket for a page to reach: its requests carry
:data:`IN_PROCESS` in the WSGI environ (an HTTP header cannot set that key) and skip the Host
checks, not the token.

Bodies are capped before anything reads them: by ``Content-Length`` at once, and while reading
for a chunked body (werkzeug's ``max_content_length``); a larger request is answered 413.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from werkzeug.wrappers import Request

#: WSGI environ key set by the in-process transport (no socket: nothing else can reach it).
IN_PROCESS = "orchestrator.sandbox.in_process"

#: Largest ``/api/`` request body. Pardot documents no request size limit; a send renders to at
#: most 1 Mi characters (orchestrator.render.MAX_OUTPUT_CHARS), which form encoding can grow to
#: 12 bytes each (a 4-byte UTF-8 character, percent-encoded), so 16 MiB never refuses a send the
#: orchestrator makes, and keeps a hostile body from costing gigabytes of memory.
MAX_API_BODY = 16 * 1024 * 1024
#: Largest ``/_sandbox/`` request body (a clock change is a few bytes of JSON).
MAX_CONTROL_BODY = 64 * 1024

_LOOPBACK_NAMES = frozenset({"localhost"})


def body_limit(path: str) -> int:
    """The largest body a request to ``path`` may carry."""
    return MAX_CONTROL_BODY if path.startswith("/_sandbox/") else MAX_API_BODY


def too_large(request: Request) -> bool:
    """True when the declared ``Content-Length`` is over the limit (nothing has been read)."""
    length = request.content_length
    return length is not None and length > body_limit(request.path)


def host_refusal(environ: Mapping[str, Any], *, control: bool) -> str | None:
    """Why the request's ``Host`` may not use this route, or None when it may."""
    if environ.get(IN_PROCESS):
        return None
    host = environ.get("HTTP_HOST")
    if host is None:
        return None  # every browser sends Host; a request without one is no web page
    try:
        parts = urlsplit(f"//{host}")
        name, port = (parts.hostname or ""), parts.port
    except ValueError:
        return f"Host {host!r} is not a host name with an optional port"
    if control:
        server_port = str(environ.get("SERVER_PORT", ""))
        if not _is_loopback(name) or str(port or 80) != server_port:
            return (
                f"Host {host!r} may not use the sandbox's control routes: address the server as "
                f"127.0.0.1:{server_port} or localhost:{server_port} from this machine"
            )
        return None
    if name not in _LOOPBACK_NAMES and not _is_ip(name):
        return f"Host {host!r} is a name the sandbox does not serve: address it by IP address or as localhost"
    return None


def token_refusal(request: Request, token: str) -> str | None:
    """Why a state-changing control request is refused (token, content type), or None."""
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        return "this sandbox control route needs the sandbox's token: Authorization: Bearer TOKEN"
    return None


def content_type_refusal(request: Request) -> str | None:
    """A control ``POST`` must be JSON (a page cannot send that cross-site without a preflight)."""
    if request.method == "POST" and request.mimetype != "application/json":
        return "send the body as JSON, with Content-Type: application/json"
    return None


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _is_loopback(name: str) -> bool:
    if name in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False
