"""The CloudFormation template against AWS's resource specification (cfn-lint, bundled).

LocalStack creates most of the template on every `up`, but not what carries `Condition:
IsAws` (the ops alarm and its topic, and what later issues add for AWS only): this is the
only check those resources get before a real deployment.
"""

from __future__ import annotations

from pathlib import Path

from cfnlint.api import ManualArgs, lint_file

from paylab.infra.template import TEMPLATE_PATH as TEMPLATE


def test_the_template_passes_cfn_lint_in_the_regions_we_deploy_to() -> None:
    """No error (E rules). Warnings change from release to release; `cfn-lint` on the command
    line shows them."""
    found = lint_file(TEMPLATE, config=ManualArgs(regions=["us-east-1"]))
    errors = [m for m in found if m.rule.id.startswith("E")]
    assert [f"{m.rule.id} {m.message} (line {m.linenumber})" for m in errors] == []


def test_cfn_lint_does_catch_a_broken_alarm(tmp_path: Path) -> None:
    """It sees the AWS-only resources: a wrong property type in the alarm is reported."""
    broken = tmp_path / "template.yaml"
    text = TEMPLATE.read_text()
    assert "      Threshold: 1\n" in text
    broken.write_text(text.replace("      Threshold: 1\n", "      Threshold: abc\n", 1))
    found = lint_file(broken, config=ManualArgs(regions=["us-east-1"]))
    assert any("'abc' is not of type 'number'" in m.message for m in found), found
