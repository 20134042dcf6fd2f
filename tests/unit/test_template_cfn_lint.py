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


@pytest.mark.parametrize(
    ("path", "good", "broken", "reported"),
    [
        # An AWS-only resource of the parent: a wrong property type in the alarm.
        (
            TEMPLATE,
            "      Threshold: 1\n",
            "      Threshold: abc\n",
            "'abc' is not of type 'number'",
        ),
        # The compute plane: an Aurora version that does not exist.
        (
            COMPUTE_TEMPLATE,
            'EngineVersion: "15.10"',
            'EngineVersion: "15.99"',
            "'15.99' is not one of",
        ),
    ],
    ids=["alarm", "aurora"],
)
def test_cfn_lint_does_catch_a_mistake_in_what_localstack_never_creates(
    tmp_path: Path, path: Path, good: str, broken: str, reported: str
) -> None:
    text = path.read_text()
    assert good in text
    copy = tmp_path / path.name
    copy.write_text(text.replace(good, broken, 1))
    found = lint_file(copy, config=ManualArgs(regions=["us-east-1"]))
    assert any(reported in m.message for m in found), found
