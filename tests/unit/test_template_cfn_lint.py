"""The CloudFormation templates against AWS's resource specification (cfn-lint, bundled).

LocalStack creates most of template.yaml on every `up`, but not what carries `Condition:
IsAws`: the operations alarms and the compute plane (compute.yaml, its nested stack, which
names no LocalStack type). This is the only check those resources get before a real
deployment; test_compute_template.py ties the compute plane to the code.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cfnlint.api import ManualArgs, lint_file

from paylab.infra.artifacts import COMPUTE_TEMPLATE
from paylab.infra.template import TEMPLATE_PATH as TEMPLATE


@pytest.mark.parametrize("path", [TEMPLATE, COMPUTE_TEMPLATE], ids=lambda p: p.name)
def test_the_template_passes_cfn_lint_in_the_regions_we_deploy_to(path: Path) -> None:
    """No error (E rules). Warnings change from release to release; `cfn-lint` on the command
    line shows them."""
    found = lint_file(path, config=ManualArgs(regions=["us-east-1"]))
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


def test_cfn_lint_does_catch_an_aurora_version_that_does_not_exist(tmp_path: Path) -> None:
    broken = tmp_path / "compute.yaml"
    text = COMPUTE_TEMPLATE.read_text()
    assert '      EngineVersion: "15.10"\n' in text
    broken.write_text(text.replace('EngineVersion: "15.10"', 'EngineVersion: "15.99"', 1))
    found = lint_file(broken, config=ManualArgs(regions=["us-east-1"]))
    assert any("'15.99' is not one of" in m.message for m in found), found
