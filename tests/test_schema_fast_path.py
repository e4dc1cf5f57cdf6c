"""The schema validator checks ``oneOf``, ``anyOf``, ``not`` and ``if`` discriminator first (no error
built for a valid file): it must report exactly the errors jsonschema's plain Draft 2020-12 validator
reports, in the same order, with the same context, so every message stays as it was."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from orchestrator.schemas import load_schema, validator
from orchestrator.yamlload import Document, load_yaml

REPO = Path(__file__).resolve().parents[1]


def parsed(paths: list[Path]) -> list[tuple[Path, Any]]:
    """Each file's data, for the files that parse (the YAML-error cases never reach the schema)."""
    docs = [(path, load_yaml(path)) for path in paths]
    return [(path, doc.data) for path, doc in docs if isinstance(doc, Document)]


CAMPAIGNS = parsed(
    [*sorted((REPO / "tests" / "cases").rglob("campaigns/*.yaml")), *sorted((REPO / "campaigns").glob("*.yaml"))]
)
CONFIGS = parsed([*sorted((REPO / "tests" / "cases").rglob("orchestrator.yaml")), REPO / "orchestrator.yaml"])


def tree(errors: Any) -> list[tuple[Any, ...]]:
    """Everything an error carries that a message is made from, its alternatives included."""
    return [
        (e.message, e.validator, list(e.absolute_path), list(e.absolute_schema_path), tree(e.context)) for e in errors
    ]


def same_errors(name: str, data: Any) -> None:
    plain: list[ValidationError] = list(Draft202012Validator(load_schema(name)).iter_errors(data))
    assert tree(validator(name).iter_errors(data)) == tree(plain)


@pytest.mark.parametrize(("path", "data"), CAMPAIGNS, ids=[str(p.relative_to(REPO)) for p, _ in CAMPAIGNS])
def test_every_campaign_file_of_the_cases_gets_the_plain_validators_errors(path: Path, data: Any) -> None:
    same_errors("campaign", data)


@pytest.mark.parametrize(("path", "data"), CONFIGS, ids=[str(p.relative_to(REPO)) for p, _ in CONFIGS])
def test_every_config_file_of_the_cases_gets_the_plain_validators_errors(path: Path, data: Any) -> None:
    same_errors("config", data)


REF = st.one_of(
    st.integers(-2, 3), st.sampled_from(["spring", "Bad Name", "", "x.y"]), st.booleans(), st.none(), st.just(1.0)
)
ANY = st.one_of(
    REF, st.text(max_size=3), st.lists(REF, max_size=2), st.dictionaries(st.text(max_size=2), REF, max_size=2)
)
SENDER = st.one_of(
    st.dictionaries(
        st.sampled_from(["name", "email", "user", "assigned_user", "account_owner", "extra"]),
        st.one_of(st.sampled_from(["Acme", "news@example.com", "jane", ""]), REF),
        max_size=4,
    ),
    ANY,
)
SCHEDULE = st.one_of(
    st.dictionaries(
        st.sampled_from(["at", "cron", "now", "timezone", "start", "until", "horizon", "extra"]),
        st.one_of(st.sampled_from(["2027-01-01T09:00:00Z", "0 9 * * MON", "2d", "UTC", "", "soon"]), REF),
        max_size=3,
    ),
    ANY,
)
OPERATIONAL = st.one_of(
    st.dictionaries(st.sampled_from(["reason", "extra"]), st.one_of(st.sampled_from(["password reset", "x"]), REF)),
    ANY,
)
CAMPAIGN = st.fixed_dictionaries(
    {},
    optional={
        "name": st.sampled_from(["welcome", "Bad Name", ""]) | REF,
        "kind": st.sampled_from(["list", "one-to-one", "other"]) | REF,
        "campaign": REF,
        "lists": st.lists(REF, max_size=3) | ANY,
        "suppression_lists": st.lists(REF, max_size=2) | ANY,
        "sender": SENDER,
        "reply_to": st.sampled_from(["support@example.com", "x"]) | REF,
        "operational": OPERATIONAL,
        "template": REF,
        "subject": st.sampled_from(["Hello", ""]) | REF,
        "text": st.sampled_from(["Hi %%unsubscribe%%"]) | REF,
        "text_file": st.sampled_from(["t.txt", ""]) | REF,
        "html": st.sampled_from(["<p>Hi</p>"]) | REF,
        "html_file": st.sampled_from(["h.html"]) | REF,
        "vars": ANY,
        "schedule": SCHEDULE,
        "prospects": st.lists(st.one_of(REF, st.sampled_from(["a@example.com", "no-at"])), max_size=3) | ANY,
        "policy": st.dictionaries(st.sampled_from(["max_recipients", "min_lead_time", "lints"]), ANY, max_size=2),
        "unknown": ANY,
    },
)


@settings(max_examples=500)
@given(data=st.one_of(CAMPAIGN, ANY))
def test_any_campaign_document_gets_the_plain_validators_errors(data: Any) -> None:
    same_errors("campaign", data)
