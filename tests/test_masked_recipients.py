"""People can tell masked recipients apart (issue 18), through the real CLI.

Two prospects with the same first letter and domain used to read the same in every plan,
apply log and state listing (``demo-followup/p***@example.com`` twice); a short stable tag
now tells them apart, reveals neither address, and the masked key still works with `state show`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.helpers import NOW, copy_example
from tests.helpers import run_at_now as run

ADDRESSES = ("p5001@example.com", "p5002@example.com")  # sandbox prospects: same first letter and domain
MASKED = re.compile(r"demo-followup/p\*\*\*@example\.com#[0-9a-f]{4}")


def test_two_recipients_with_the_same_first_letter_are_told_apart(tmp_path: Path) -> None:
    project = copy_example(tmp_path / "example")
    followup = project / "campaigns" / "demo-followup.yaml"
    original = "prospects: [1234, jane.prospect@example.com]"
    followup.write_text(followup.read_text().replace(original, f"prospects: [{', '.join(ADDRESSES)}]"))
    code, plan_out, err = run(project, "plan", "--now", NOW)
    assert code == 0, plan_out + err
    shown = sorted(set(MASKED.findall(plan_out)))
    assert len(shown) == 2 and not any(address in plan_out for address in ADDRESSES)

    code, out, err = run(project, "apply", "--auto-approve", "--now", NOW)
    assert code == 0, out + err
    assert sorted(set(MASKED.findall(out))) == shown  # the same tags in the apply log
    code, out, _ = run(project, "state", "list")
    assert sorted(set(MASKED.findall(out))) == shown

    for masked in shown:  # each masked key names its own send
        code, out, err = run(project, "state", "show", masked)
        assert code == 0, err
        key = json.loads(out)["key"]
        assert key in {f"demo-followup/{a}" for a in ADDRESSES}
        assert run(project, "plan", "--now", NOW, "--show-unchanged")[1].count(masked) == 1
    keys = {json.loads(run(project, "state", "show", masked)[1])["key"] for masked in shown}
    assert len(keys) == 2
    code, _, err = run(project, "state", "show", "demo-followup/p***@example.com")  # the old, untagged form
    assert code == 1 and "is the masked form of 2 sends" in err
