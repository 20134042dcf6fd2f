"""Read CloudFormation YAML, short-form tags (!Ref, !GetAtt, !Sub, ...) included."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

TEMPLATE_PATH = Path(__file__).with_name("template.yaml")

# Short forms CloudFormation accepts; `!Ref` and `!Condition` keep their own key, the
# rest become `Fn::<Name>`.
_FUNCTIONS = (
    "And",
    "Base64",
    "Cidr",
    "Equals",
    "FindInMap",
    "GetAtt",
    "GetAZs",
    "If",
    "ImportValue",
    "Join",
    "Not",
    "Or",
    "Select",
    "Split",
    "Sub",
    "Transform",
)


class CloudFormationLoader(yaml.SafeLoader):
    """A safe YAML loader that turns CloudFormation short forms into their long forms."""


def _construct(key: str) -> Any:
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        value: Any
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
            # `!GetAtt Resource.Attribute` is the short form of ["Resource", "Attribute"].
            if key == "Fn::GetAtt":
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
        return {key: value}

    return construct


CloudFormationLoader.add_constructor("!Ref", _construct("Ref"))
CloudFormationLoader.add_constructor("!Condition", _construct("Condition"))
for _name in _FUNCTIONS:
    CloudFormationLoader.add_constructor(f"!{_name}", _construct(f"Fn::{_name}"))


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """The template at `path` (Paylab's by default) as plain dicts and lists."""
    loaded = yaml.load(path.read_text(encoding="utf-8"), Loader=CloudFormationLoader)  # noqa: S506
    if not isinstance(loaded, dict):
        raise ValueError(f"{path} is not a CloudFormation template (top level is not a mapping)")
    return loaded
