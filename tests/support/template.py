"""infra/template.yaml as data: CloudFormation's short tags (!Ref, !Sub, ...) read in their long
form, and the small lookups the template's tests share."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.support import REPO_ROOT

TEMPLATE = REPO_ROOT / "infra" / "template.yaml"


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader that turns CloudFormation short tags (!Ref, !Sub, ...) into long form."""


def _construct_cfn_tag(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    elif isinstance(node, yaml.MappingNode):
        value = loader.construct_mapping(node, deep=True)
    else:
        raise yaml.constructor.ConstructorError(None, None, f"unexpected node {node!r}")
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{tag_suffix}": value}


_CfnLoader.add_multi_constructor("!", _construct_cfn_tag)


def parse_template(text: str) -> dict[str, Any]:
    """A template's text (e.g. the TemplateBody a stack was deployed with) as a dict."""
    data = yaml.load(text, Loader=_CfnLoader)  # a SafeLoader subclass
    assert isinstance(data, dict)
    return data


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    return parse_template(path.read_text(encoding="utf-8"))


def of_type(resources: dict[str, Any], type_name: str) -> dict[str, Any]:
    return {k: v for k, v in resources.items() if v["Type"] == type_name}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]
