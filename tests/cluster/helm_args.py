"""Which of helm install/upgrade's arguments `helm template` takes too: the stand-in and the
install reader both render the project's chart with exactly the values the script passed."""

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
