"""Benchmark for issue 13 (run: python benchmarks/previews.py [--sends 50] [--runs 3]).

``plan --previews``: previews of N changed sends (HTML, text, and screenshots at 800 px and
375 px through one headless Chromium). Each send is a realistic newsletter: a table layout
with inline styles, about 5 KB of HTML, five remote images (refused by the preview page, as
always) and PML/HML merge tags. Target: 50 sends in under 60 s on the 2-core CI machine.

Figures go to stdout as a Markdown table (copied into docs/performance.md).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from orchestrator.connect import build_client, build_store
from orchestrator.outdir import claim
from orchestrator.planning import plan_project
from orchestrator.preview.write import write_previews
from orchestrator.project import load_project

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)

LAYOUT = """<!doctype html>
<html><head><meta name="viewport" content="width=device-width"></head>
<body style="margin:0; background:#f3f4f6; font-family: Helvetica, Arial, sans-serif">
<div style="display:none; max-height:0; overflow:hidden">{% block preheader %}{% endblock %}</div>
<table role="presentation" width="100%" cellpadding="0" cellspacing="0"><tr><td align="center">
<table role="presentation" width="600" style="max-width:600px; width:100%; background:#ffffff">
<tr><td style="padding:24px"><img src="https://example.com/logo.png" alt="Acme" width="120"></td></tr>
{% block body %}{% endblock %}
<tr><td style="padding:24px; font-size:12px; color:#6b7280">
You receive this because you subscribed at {{ site }}.
<a href="%%unsubscribe%%">Unsubscribe</a> or <a href="{{EmailPreferenceCenter}}">manage your preferences</a>.
</td></tr></table></td></tr></table></body></html>
"""

ARTICLE = """<tr><td style="padding:16px 24px; border-top:1px solid #e5e7eb">
<img src="https://example.com/img/{{ n }}-{{ i }}.jpg" alt="Story {{ i }}" width="552" style="width:100%; height:auto">
<h2 style="font-size:20px; color:#111827; margin:12px 0 8px">Story {{ i }}: {{ pct }}% off the spring range</h2>
<p style="font-size:15px; line-height:22px; color:#374151; margin:0 0 12px">
{% for _ in range(6) %}Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.
{% endfor %}
</p><a href="{{ site }}/story/{{ i }}" style="background:#2563eb; color:#fff; padding:10px 16px; border-radius:4px;
text-decoration:none; display:inline-block">Read more</a></td></tr>
"""


def write_project(root: Path, count: int) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "orchestrator.yaml").write_text(
        "version: 1\ndefault_environment: bench\ntimezone: UTC\n"
        "environments:\n  bench:\n    api: {kind: sandbox}\n    state: {backend: sqlite, path: state.db}\n"
        "    ids: {campaigns: {spring: 1001}, lists: {newsletter: 2001}}\n"
        "    vars: {site: https://example.com}\n",
        encoding="utf-8",
    )
    campaigns = root / "campaigns"
    (campaigns / "_layouts").mkdir(parents=True, exist_ok=True)
    (campaigns / "_layouts" / "news.html.j2").write_text(LAYOUT)
    (campaigns / "_layouts" / "article.html.j2").write_text(ARTICLE)
    for n in range(count):
        (campaigns / f"n{n:03d}.yaml").write_text(
            f"name: n{n:03d}\ncampaign: spring\nlists: [newsletter]\n"
            "sender: {name: Acme, email: news@example.com}\n"
            f"subject: 'Issue {n}: {{{{ pct }}}}% off, {{{{Recipient.FirstName}}}}'\n"
            "text: |\n  Hello %%first_name%%,\n  {% for i in range(4) %}{{ site }}/story/{{ i }}\n  {% endfor %}"
            "Unsubscribe: %%unsubscribe%%\n"
            "html: |\n  {% extends '_layouts/news.html.j2' %}\n"
            "  {% block preheader %}{{ pct }}% off this week{% endblock %}\n"
            "  {% block body %}<tr><td style='padding:0 24px'><h1>Hello {{#if Recipient.FirstName}}"
            "{{Recipient.FirstName}}{{else}}there{{/if}}</h1></td></tr>\n"
            "  {% for i in range(4) %}{% include '_layouts/article.html.j2' %}{% endfor %}{% endblock %}\n"
            f"vars: {{pct: {10 + n % 40}, n: {n}}}\nschedule: {{at: '2027-02-0{1 + n % 9}T09:00:00Z'}}\n",
            encoding="utf-8",
        )


def bench(count: int, workdir: Path) -> dict[str, float | int]:
    root = workdir / "project"
    shutil.rmtree(root, ignore_errors=True)
    shutil.rmtree(workdir / "previews", ignore_errors=True)  # an output folder must be new or empty
    write_project(root, count)
    project = load_project(root)
    env = project.config.environment()
    store = build_store(env, project.config.root)
    client = build_client(env, project.config.root)
    try:
        started = time.perf_counter()
        plan = plan_project(project, env, store.snapshot(), NOW, client=client)
        planned = time.perf_counter()
        with claim(workdir / "previews", option="previews") as out:
            run = write_previews(plan, project, out, templates=client)
            out.finish()
        done = time.perf_counter()
    finally:
        client.close()
        store.close()
    assert run.browser_error is None, run.browser_error
    shots = sum(len(s.screenshots) for s in run.sends)
    html_kb = statistics.mean(len((s.folder / "preview.html").read_bytes()) for s in run.sends) / 1024
    return {
        "sends": len(plan.pending),
        "screenshots": shots,
        "html_kb": html_kb,
        "plan_s": planned - started,
        "previews_s": done - planned,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sends", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.runs):
            results.append(bench(args.sends, Path(tmp)))
    first = results[0]
    median = statistics.median(r["previews_s"] for r in results)
    print(f"| sends | screenshots | HTML per send | plan (s) | previews, median of {args.runs} (s) | per send (s) |")
    print("|---:|---:|---:|---:|---:|---:|")
    print(
        f"| {first['sends']} | {first['screenshots']} | {first['html_kb']:.1f} KB | "
        f"{statistics.median(r['plan_s'] for r in results):.2f} | {median:.2f} | {median / first['sends']:.2f} |"
    )
    print("runs:", ", ".join(f"{r['previews_s']:.2f}" for r in results))


if __name__ == "__main__":
    main()
