"""Message rendering: sandboxed Jinja2 where a missing variable is an error, never "님" alone.

A personalised message also gets its campaign's shared text: the same template rendered with every
printed value replaced by a `{{path}}` placeholder (`placeholder_variables`). Batch APIs send that
text once per request with each customer's values; the planner keeps it only when filling it gives
the customer's rendered message exactly. It travels to delivery in the planned row's `data`, under
`TEMPLATE_KEY` (`pack_template` / `unpack_template`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateRuntimeError, Undefined
from jinja2.sandbox import SandboxedEnvironment

from channels import models

_env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)


class EmptyValue(TemplateRuntimeError):
    """A template printed a value this customer does not have (and gave no wording for that case)."""


class Blank(Undefined):
    """A variable the audience has but that is empty for this customer (an optional product name).

    False in a test, replaced by `default`, so a campaign file can word the case (`{% if x %}`, `x or "..."`,
    `x | default("...")`); printed as is, it raises EmptyValue: never "담아 두신  고민되시죠?".
    """

    __slots__ = ()

    def __init__(self, name: str) -> None:
        super().__init__(name=name, exc=EmptyValue)

    @property
    def _undefined_message(self) -> str:
        return f"{self._undefined_name} is empty for this customer"

    __str__ = Undefined._fail_with_undefined_error


@lru_cache(maxsize=512)
def compile_template(source: str) -> Template:
    """Parse once; a syntax error surfaces when the campaign file is loaded, not at send time."""
    return _env.from_string(source)


def render(source: str, variables: Mapping[str, Any]) -> str:
    """Render one template; raises jinja2.UndefinedError naming a missing variable, EmptyValue an empty one."""
    return compile_template(source).render(**variables).strip()


TEMPLATE_KEY = "template"
_PRINTED = (str, int, float, Decimal, date)  # what a template prints as text (bool is a condition)


def placeholder_variables(variables: Mapping[str, Any], prefix: str = "") -> tuple[dict[str, Any], dict[str, str]]:
    """`variables` with each printed value replaced by its `{{path}}` placeholder, and path -> the text
    that value renders as. Booleans, None and lists stay: templates branch and loop on them."""
    shared: dict[str, Any] = {}
    values: dict[str, str] = {}
    for name, value in variables.items():
        path = f"{prefix}{name}"
        if isinstance(value, Mapping):
            shared[name], inner = placeholder_variables(value, f"{path}.")
            values |= inner
        elif isinstance(value, _PRINTED) and not isinstance(value, bool):
            shared[name] = "{{" + path + "}}"
            values[path] = str(value)
        else:
            shared[name] = value
    return shared, values


def pack_template(template: models.Template, params: Mapping[str, str]) -> str:
    return json.dumps(
        {"body": template.body, "subject": template.subject, "html": template.html, "params": dict(params)},
        ensure_ascii=False,
        sort_keys=True,
    )


def unpack_template(data: Mapping[str, str]) -> tuple[dict[str, str], models.Template | None, dict[str, str]]:
    """A planned row's data without the shared text, and the shared text and this customer's values."""
    if TEMPLATE_KEY not in data:
        return dict(data), None, {}
    rest = {k: v for k, v in data.items() if k != TEMPLATE_KEY}
    packed = json.loads(data[TEMPLATE_KEY])
    params = {str(k): str(v) for k, v in packed["params"].items()}
    return rest, models.Template(packed["body"], packed.get("subject"), packed.get("html")), params
