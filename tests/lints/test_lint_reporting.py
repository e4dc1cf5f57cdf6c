"""Lints through the CLI: located, warnings by default, promoted or silenced by policy at each level."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from tests.helpers import NOW, copy_example, run

CASES = Path(__file__).resolve().parents[1] / "cases"

CAMPAIGN = """\
name: promo
campaign: spring-2027
lists: [newsletter]
sender: {name: Acme, email: news@example.com}
subject: Spring sale
text: |
  Shop: https://example.com/sale
  %%unsubscribe%%
html: |
  <div style="display:none">Spring deals</div>
  <p><a href="https://example.com/sale"><img src="https://example.com/a.png"></a></p>
  <p><a href="%%unsubscribe%%">Unsubscribe</a></p>
schedule: {now: true}
"""


def _project(tmp_path: Path, *, config_policy: dict[str, Any] | None = None, env_policy: dict[str, Any] | None = None,
             campaign_policy: dict[str, Any] | None = None) -> Path:
    root = tmp_path / "project"
    (root / "campaigns").mkdir(parents=True)
    config = yaml.safe_load((CASES / "base.orchestrator.yaml").read_text())
    if config_policy:
        config["policy"] = {**config.get("policy", {}), **config_policy}
    if env_policy:
        config["environments"]["test"]["policy"] = env_policy
    (root / "orchestrator.yaml").write_text(yaml.safe_dump(config))
    text = CAMPAIGN + (yaml.safe_dump({"policy": campaign_policy}) if campaign_policy else "")
    (root / "campaigns" / "promo.yaml").write_text(text)
    return root


def test_none_fires_on_the_example_project(tmp_path: Path) -> None:
    project = copy_example(tmp_path / "example")
    code, out, err = run(project, "validate", "--format", "json", "--now", NOW)
    assert code == 0, out + err
    assert json.loads(out)["problems"] == []


def test_a_lint_is_a_located_warning_by_default(tmp_path: Path) -> None:
    code, out, err = run(_project(tmp_path), "validate", "--now", NOW)
    assert code == 0, out + err
    assert "campaigns/promo.yaml:9:7: warning: image-alt: image 'https://example.com/a.png' has no alt" in out
    assert "(rendered html line 2)" in out


def test_github_format_gives_an_annotation(tmp_path: Path) -> None:
    code, out, _ = run(_project(tmp_path), "validate", "--format", "github", "--now", NOW)
    assert code == 0
    assert "::warning file=campaigns/promo.yaml,line=9,col=7::image-alt: image" in out


def test_project_policy_promotes_a_lint_to_an_error(tmp_path: Path) -> None:
    project = _project(tmp_path, config_policy={"lints": {"image-alt": "error"}})
    code, out, _ = run(project, "validate", "--now", NOW)
    assert code == 1
    assert "campaigns/promo.yaml:9:7: error: image-alt:" in out


def test_environment_policy_promotes_and_campaign_policy_silences(tmp_path: Path) -> None:
    promoted = _project(tmp_path / "a", env_policy={"lints": {"image-alt": "error"}})
    assert run(promoted, "validate", "--now", NOW)[0] == 1
    silenced = _project(
        tmp_path / "b", env_policy={"lints": {"image-alt": "error"}}, campaign_policy={"lints": {"image-alt": "off"}}
    )
    code, out, _ = run(silenced, "validate", "--now", NOW)
    assert code == 0
    assert "image-alt" not in out


def test_campaign_policy_promotes_only_its_lint(tmp_path: Path) -> None:
    project = _project(tmp_path, campaign_policy={"lints": {"subject-length": "error"}})
    code, out, _ = run(project, "validate", "--now", NOW)
    assert code == 0, out  # the subject is short; image-alt stays a warning
    assert "warning: image-alt" in out


def test_plan_reports_lints_and_refuses_a_promoted_one(tmp_path: Path) -> None:
    project = _project(tmp_path, config_policy={"lints": {"image-alt": "error"}})
    code, out, err = run(project, "plan", "--now", NOW)
    assert code == 1
    assert "image-alt" in out + err


def test_an_unknown_lint_name_in_policy_is_a_located_error(tmp_path: Path) -> None:
    project = _project(tmp_path, campaign_policy={"lints": {"image-alts": "error"}})
    code, out, _ = run(project, "validate", "--now", NOW)
    assert code == 1
    assert "campaigns/promo.yaml" in out and "image-alt" in out


def test_policy_lint_levels_merge_key_by_key() -> None:
    from orchestrator.config import Policy

    project = Policy().merged({"lints": {"image-alt": "error", "preheader": "off"}})
    campaign = project.merged({"lints": {"image-alt": "warning"}})
    assert (campaign.lint_level("image-alt"), campaign.lint_level("preheader")) == ("warning", "off")
    assert campaign.lint_level("text-link") == "warning"
    assert hash(campaign)  # a policy stays hashable
