"""Real Pardot answers (tests/pardot/bodies/real/) through the client's parsing and decoding.

Every body names its source in ``PROVENANCE.yaml`` (repository, path, commit); the grouparoo
recordings also keep the HTTP status and Content-Length Pardot sent, and the file size must
equal that length, so a hand-edited body cannot pass for a recording. Each body must parse,
and each has an expectation below: a decoded value, or an error class and code, both when
decoded directly and when served by a fake server with its recorded HTTP status.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from orchestrator.errors import ApiAuthError, ApiError, ApiNotFound, ApiValidationError
from orchestrator.pardot import decode
from orchestrator.pardot.envelope import Envelope, parse_envelope
from orchestrator.pardot.errormap import INVALID_ID_CODES, error_for_code
from orchestrator.pardot.models import Campaign, EmailStats, PardotList, User

from .fakes import Answer, ClientFactory, FakePardot

REAL = Path(__file__).parent / "bodies" / "real"
PROVENANCE: dict[str, dict[str, Any]] = yaml.safe_load((REAL / "PROVENANCE.yaml").read_text())["bodies"]


def _env(name: str) -> Envelope:
    return parse_envelope((REAL / name).read_bytes())


def _ok(env: Envelope) -> Envelope:
    if not env.ok:
        failure = env.failures[0]
        raise error_for_code(failure.code, "; ".join(f.message for f in env.failures))
    return env


def query_count(key: str) -> Callable[[Envelope], Any]:
    def run(env: Envelope) -> Any:
        total, items = decode.decode_query(_ok(env).root("result"), key)
        return total, len(items)

    return run


def prospect_nulls(env: Envelope) -> Any:
    prospect = _ok(env).root("prospect")
    # Real v4 JSON: unset values are null, flags included; the decoders read null as false.
    return (
        prospect["last_name"],
        decode.as_bool(prospect["opted_out"], "opted_out"),
        decode.as_bool(prospect["is_do_not_email"], "is_do_not_email"),
        decode.as_datetime(prospect["last_activity_at"], "last_activity_at"),
        decode.as_int(prospect["score"], "score"),
    )


OK_CASES: list[tuple[str, Callable[[Envelope], Any], Any]] = [
    ("grouparoo_list_query_0.json", query_count("list"), (0, 0)),
    (
        "grouparoo_list_query_1.json",
        lambda e: [decode.decode_list(i) for i in decode.decode_query(_ok(e).root("result"), "list")[1]],
        [PardotList(12671, "(test) High Value", False, False)],
    ),
    (
        "grouparoo_list_create.json",
        lambda e: decode.decode_list(_ok(e).root("list")),
        PardotList(12671, "(test) High Value"),
    ),
    ("grouparoo_list_membership_query_0.json", query_count("list_membership"), (0, 0)),
    ("grouparoo_list_membership_query_1.json", query_count("list_membership"), (1, 1)),
    ("grouparoo_list_membership_query_2.json", query_count("list_membership"), (2, 2)),
    ("grouparoo_prospect_read_nulls.json", prospect_nulls, (None, False, False, None, 0)),
    ("grouparoo_batch_upsert_ok_http201.json", lambda e: dict(_ok(e).data), {"errors": {}}),
    ("grouparoo_prospect_query_mobile_1.json", query_count("prospect"), (1, 1)),
    (
        "crim_campaign_read.xml",
        lambda e: decode.decode_campaign(_ok(e).root("campaign")),
        Campaign(456, "Test Campaign"),
    ),
    (
        "crim_campaign_query.xml",
        lambda e: [decode.decode_campaign(i) for i in decode.decode_query(_ok(e).root("result"), "campaign")[1]],
        [Campaign(123, "Website Tracking"), Campaign(456, "Test Campaign")],
    ),
    ("crim_list_read.xml", lambda e: decode.decode_list(_ok(e).root("list")), PardotList(33173, "Stevie Only List")),
    (
        "crim_list_query.xml",
        lambda e: [decode.decode_list(i) for i in decode.decode_query(_ok(e).root("result"), "list")[1]],
        [PardotList(839, "Internal Test List", False, True), PardotList(33173, "Stevie Only List", True, False)],
    ),
    (
        "crim_user_read.xml",
        lambda e: decode.decode_user(_ok(e).root("user")),
        User(1212, "apitest@gmail.com", "Api", "Test"),
    ),
    (
        "crim_user_query.xml",
        lambda e: [decode.decode_user(i).name for i in decode.decode_query(_ok(e).root("result"), "user")[1]],
        ["Api Test", "Random User"],
    ),
    (
        "crim_email_stats.xml",
        lambda e: decode.decode_stats(_ok(e).root("stats")),
        EmailStats(1024, 1020, 512, 256, 10, 12, 14, 2, 964, 459, 98.42, 42.0, 23.0, 53.0, 75.05, 4.0, 2.2),
    ),
    (
        "crim_email_template_read.xml",
        lambda e: (lambda t: (t.id, t.name, t.is_list_email, t.is_archived, t.reply_to_address, t.send_from))(
            decode.decode_template(_ok(e).root("emailTemplate"))
        ),
        (11, "Test Email Template", True, False, None, []),
    ),
    (
        "crim_email_template_list_one_to_one.xml",
        lambda e: [(t.id, t.name) for t in decode.decode_template_list(_ok(e).data["emailTemplates"])],
        [(1, "Buyer's Guide"), (11, "Test Email Template")],
    ),
    (
        "crim_email_read.xml",
        lambda e: (lambda m: (m.id, m.name, m.is_one_to_one, m.created_at, "%%unsubscribe%%" in (m.html or "")))(
            decode.decode_email(_ok(e).root("email"))
        ),
        (12345, "Test Email To Stephen", True, datetime(2017, 8, 11, 21, 41, 8), True),
    ),
]

ERROR_CASES: list[tuple[str, type[ApiError], int | None, str]] = [
    ("grouparoo_prospect_read_error_4_http400.json", ApiNotFound, 4, "Invalid prospect email address"),
    ("grouparoo_batch_upsert_fail_http200.json", ApiValidationError, None, "item 0: Invalid prospect email address"),
    ("crim_user_read_invalid_id.xml", ApiValidationError, 10, "Invalid user ID"),
    ("crim_error_invalid_api_key.xml", ApiAuthError, 1, "Invalid API key or user key"),
    ("crim_error_invalid_sso_access_token.xml", ApiAuthError, 184, "access_token is invalid"),
]


def test_every_body_has_provenance_and_a_case() -> None:
    files = {p.name for p in REAL.iterdir() if p.name != "PROVENANCE.yaml"}
    assert files == set(PROVENANCE)
    assert files == {c[0] for c in OK_CASES} | {c[0] for c in ERROR_CASES}


@pytest.mark.parametrize("name", sorted(PROVENANCE))
def test_provenance_names_repository_path_and_commit(name: str) -> None:
    entry = PROVENANCE[name]
    assert re.fullmatch(r"[\w.-]+/[\w.-]+", entry["repository"])
    assert entry["path"]
    assert re.fullmatch(r"[0-9a-f]{40}", entry["commit"])
    if "content_length" in entry:
        assert (REAL / name).stat().st_size == entry["content_length"], "not the recorded body"


@pytest.mark.parametrize(("name", "decoder", "expected"), OK_CASES, ids=[c[0] for c in OK_CASES])
def test_real_body_decodes(name: str, decoder: Callable[[Envelope], Any], expected: Any) -> None:
    assert decoder(_env(name)) == expected


@pytest.mark.parametrize(("name", "error", "code", "fragment"), ERROR_CASES, ids=[c[0] for c in ERROR_CASES])
def test_real_failure_maps_to_error(name: str, error: type[ApiError], code: int | None, fragment: str) -> None:
    with pytest.raises(error) as caught:
        _ok(_env(name))
    assert caught.value.code == code
    assert fragment in str(caught.value)


def _serve(name: str) -> FakePardot:
    """A fake Pardot answering every request with the body and its recorded HTTP status."""
    entry = PROVENANCE[name]
    kind = "application/json" if name.endswith(".json") else "application/xml"
    body = (REAL / name).read_bytes()
    return FakePardot(default=Answer(body=body, status=entry.get("http_status", 200), content_type=kind))


def test_error_4_with_http_400_is_not_found_through_the_client(make_client: ClientFactory) -> None:
    """The recorded status does not change the reading: the body's code decides."""
    client = make_client(_serve("grouparoo_prospect_read_error_4_http400.json"))
    with pytest.raises(ApiNotFound) as caught:
        client.read_campaign(1)
    assert (caught.value.code, caught.value.http_status) == (4, 400)


def test_stat_fail_with_http_200_and_no_code_is_a_refusal(make_client: ClientFactory) -> None:
    client = make_client(_serve("grouparoo_batch_upsert_fail_http200.json"))
    with pytest.raises(ApiValidationError, match="Invalid prospect email address") as caught:
        client.read_list(1)
    assert caught.value.code is None


def test_invalid_user_id_is_one_of_the_invalid_id_codes(make_client: ClientFactory) -> None:
    client = make_client(_serve("crim_user_read_invalid_id.xml"))
    with pytest.raises(ApiError) as caught:
        client.read_user(99)
    assert caught.value.code in INVALID_ID_CODES


def test_real_list_read_through_the_client(make_client: ClientFactory) -> None:
    client = make_client(_serve("crim_list_read.xml"))
    assert client.read_list(33173) == PardotList(33173, "Stevie Only List")
