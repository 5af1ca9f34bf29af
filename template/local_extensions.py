"""Jinja extension for cookiecutter.json: the directory cookiecutter was started from.

cookiecutter hands the hooks the template directory as it was given on the command line, so
`cookiecutter . --directory template` gives them `./template`, while the hooks run inside the
new project. cookiecutter.json records the starting directory (`__invocation_dir`) at prompt
time, when the working directory is still the one the relative path was given from.
"""

from __future__ import annotations

import os

from jinja2 import Environment
from jinja2.ext import Extension


class InvocationDir(Extension):
    """Adds `invocation_dir()`: the current working directory when the variable is rendered."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        environment.globals["invocation_dir"] = os.getcwd
