"""Message rendering: sandboxed Jinja2 where a missing variable is an error, never "님" alone."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, Template, Undefined
from jinja2.sandbox import SandboxedEnvironment

_env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)


class EmptyValue(Exception):
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
