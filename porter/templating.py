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
    return env


def render(template: str, **context) -> str:
    return environment().get_template(template).render(**context)
