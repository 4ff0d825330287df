"""Message rendering: sandboxed Jinja2 where a missing variable is an error, never "님" alone."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, Template
from jinja2.sandbox import SandboxedEnvironment

_env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)


@lru_cache(maxsize=512)
def compile_template(source: str) -> Template:
    """Parse once; a syntax error surfaces when the campaign file is loaded, not at send time."""
    return _env.from_string(source)


def render(source: str, variables: Mapping[str, Any]) -> str:
    """Render one template; raises jinja2.UndefinedError naming the missing variable."""
    return compile_template(source).render(**variables).strip()
