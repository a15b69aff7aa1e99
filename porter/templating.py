"""The jinja2 environment over templates/: reports, rule docs and generated code share it."""

from __future__ import annotations

import functools

import jinja2

from porter import __version__
from porter.resources import data_dir


@functools.cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(data_dir("templates"))),
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
        autoescape=False,
    )
    env.globals["porter_version"] = __version__
    env.filters["cell"] = lambda text: str(text).replace("|", "\\|").replace("\n", " ")
    env.filters["num"] = lambda value: f"{value:.4g}" if isinstance(value, float) else value
    return env


def render(template: str, **context) -> str:
    """Render a template; `template` (its own name) is available for generated-file headers."""
    return environment().get_template(template).render(template=template, **context)
