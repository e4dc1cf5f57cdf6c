"""Random sequences of apply, SIGKILL, resolve, forget, skip, rename and file edits never mail twice.

Against a real loopback sandbox server with latency, as an operator following the tool's own
hints would act: kills land while requests are in flight, unknown outcomes are resolved from
what the sandbox holds (``resolve_unknowns`` waits as the product demands), and forget / skip /
rename are tried on whatever key the machine picks (a refusal is a fine outcome). The
invariants: no email name exists twice in the sandbox, and no two emails carry the same subject
to the same lists at the same time (a renamed copy).
"""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from orchestrator.sandbox import FaultConfig, SandboxApp, SandboxServer, serve
from tests.reliability.harness import Project, assert_no_duplicates, break_dead_lock, make_project, resolve_unknowns

pytestmark = pytest.mark.slow

#: Far ahead, so scheduled sends stay in the future whatever the date the suite runs on.
LATER = "2099-01-05T10:00:00"
SCHEDULED = ("later-a", "later-b")


class Corrections(RuleBasedStateMachine):
    """One project and one sandbox server per example; each rule is one operator action."""

    root: Path
    server: SandboxServer
    project: Project

    def __init__(self) -> None:
        super().__init__()
        self.counter = 0

    @initialize()
    def start(self) -> None:
        import tempfile

        self.root = Path(tempfile.mkdtemp(prefix="corrections-"))
        self.server = serve(SandboxApp(faults=FaultConfig(latency_ms=40)), host="127.0.0.1", port=0)
        self.project = make_project(self.root / "p", self.server.url, 4, deadline=1)
        for name in SCHEDULED:
            (self.root / "p" / "campaigns" / f"{name}.yaml").write_text(
                f"name: {name}\ncampaign: spring\nlists: [newsletter]\n"
                "sender: {name: Acme, email: news@example.com}\n"
                f"subject: '{name}'\ntext: 'Hi %%unsubscribe%%'\nschedule: {{at: '{LATER}', timezone: UTC}}\n",
                encoding="utf-8",
            )

    def teardown(self) -> None:
        if hasattr(self, "server"):
            self.server.shutdown()

    def _keys(self) -> list[str]:
        return [str(r["key"]) for r in self.project.state()]

    def _settle(self, out: str) -> None:
        break_dead_lock(self.project, out)
        resolve_unknowns(self.project)

    @rule()
    def apply(self) -> None:
        code, out = self.project.cli("apply", "--auto-approve")
        if code not in (0, 3):
            self._settle(out)

    @rule(after=st.floats(min_value=0.0, max_value=0.2))
    def apply_and_kill(self, after: float) -> None:
        before = len(self.project.emails())
        process = self.project.spawn_apply()
        deadline = time.monotonic() + 30
        while len(self.project.emails()) == before and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(after)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        _code, out = self.project.cli("state", "keep", "probe@now")  # meets the dead holder's lock, if any
        self._settle(out)

    @rule(data=st.data())
    def forget(self, data: Any) -> None:
        keys = self._keys()
        if keys:
            self.project.cli("state", "forget", data.draw(st.sampled_from(keys)))

    @rule(data=st.data())
    def skip(self, data: Any) -> None:
        keys = self._keys() + [f"{name}@{LATER}Z" for name in SCHEDULED]
        self.project.cli("state", "skip", data.draw(st.sampled_from(keys)), "--reason", "property test")

    @rule(index=st.integers(min_value=0, max_value=3))
    def rename_and_carry_over(self, index: int) -> None:
        path = self.root / "p" / "campaigns" / f"s{index:03d}.yaml"
        if not path.exists():
            return
        self.counter += 1
        old = f"s{index:03d}"
        new = f"r{self.counter:02d}x{index:03d}"
        path.write_text(path.read_text(encoding="utf-8").replace(f"name: {old}", f"name: {new}"), encoding="utf-8")
        path.rename(path.with_name(f"{new}.yaml"))
        self.project.cli("state", "rename", f"{old}@now", f"{new}@now")

    @rule(index=st.integers(min_value=0, max_value=3))
    def rename_only(self, index: int) -> None:
        path = next(iter(sorted((self.root / "p" / "campaigns").glob(f"*{index:03d}.yaml"))), None)
        if path is None:
            return
        self.counter += 1
        text = path.read_text(encoding="utf-8")
        old = text.split("\n", 1)[0].removeprefix("name: ")
        path.write_text(text.replace(f"name: {old}", f"name: n{self.counter:02d}{old}"), encoding="utf-8")

    @rule(name=st.sampled_from(SCHEDULED))
    def edit_subject(self, name: str) -> None:
        path = self.root / "p" / "campaigns" / f"{name}.yaml"
        self.counter += 1
        text = path.read_text(encoding="utf-8")
        path.write_text(text.replace("subject: '", f"subject: 'v{self.counter} "), encoding="utf-8")

    @invariant()
    def never_two_emails_with_one_name_or_one_content(self) -> None:
        if not hasattr(self, "project"):
            return
        assert_no_duplicates(self.project)
        seen: dict[tuple[object, ...], str] = {}
        for email in self.project.emails():  # a renamed copy is the same email to the same people
            lists = email["list_ids"]
            assert isinstance(lists, list)
            content: tuple[object, ...] = (email["subject"], tuple(lists), email["scheduled_time"])
            assert content not in seen, f"{email['name']} repeats {seen[content]}"
            seen[content] = str(email["name"])


Corrections.TestCase.settings = settings(
    max_examples=6,
    stateful_step_count=6,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)
test_corrections_never_send_twice = Corrections.TestCase
