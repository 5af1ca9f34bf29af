"""Command-line arguments as the stand-in and the install reader both read them: an option's
value, and which of helm install/upgrade's arguments `helm template` takes too (both render the
project's chart with exactly the values the script passed)."""

from __future__ import annotations

RENDER_FLAGS = {
    "--namespace",
    "-n",
    "--values",
    "-f",
    "--set",
    "--set-string",
    "--set-json",
    "--show-only",
    "-s",
}


def template_args(args: list[str]) -> list[str]:
    """The value-setting flags of `args` (both --flag VALUE and --flag=VALUE forms)."""
    kept: list[str] = []
    skip = False
    for i, arg in enumerate(args):
        if skip:
            skip = False
            continue
        if arg.split("=", 1)[0] in RENDER_FLAGS:
            kept.append(arg)
            if "=" not in arg and i + 1 < len(args):
                kept.append(args[i + 1])
                skip = True
    return kept


def option(args: list[str], *names: str, default: str = "") -> str:
    """The value of --name VALUE or --name=VALUE (the last one given)."""
    found = default
    for i, arg in enumerate(args):
        for name in names:
            if arg == name and i + 1 < len(args):
                found = args[i + 1]
            elif arg.startswith(name + "="):
                found = arg.split("=", 1)[1]
    return found
