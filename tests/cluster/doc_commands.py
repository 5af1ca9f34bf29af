"""The shell commands the cluster docs show (code blocks and inline code), so the checks can
hold them to the same references as the scripts: what a reader pastes must work too."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

DOCS = ["docs/kind.md", "docs/serving-rollout.md"]
TOOLS = ("kubectl", "helm", "kind", "docker", "curl")


@dataclass(frozen=True)
class DocCommand:
    file: str
    line: int
    words: list[str]

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"

    def option(self, *names: str) -> str:
        for i, word in enumerate(self.words):
            for name in names:
                if word == name and i + 1 < len(self.words):
                    return self.words[i + 1]
                if word.startswith(name + "="):
                    return word.split("=", 1)[1]
        return ""


def _snippets(text: str) -> list[tuple[int, str]]:
    """(line, text) of each fenced-block command (continuations joined) and inline code span."""
    out: list[tuple[int, str]] = []
    fenced, pending, start = False, "", 0
    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if fenced:
            pending, start = (
                (pending + " " + line.rstrip("\\"), start)
                if pending
                else (line.rstrip("\\"), number)
            )
            if not line.rstrip().endswith("\\"):
                out.append((start, pending))
                pending = ""
            continue
        # Markdown tables escape pipes inside code spans.
        out.extend((number, span.replace("\\|", "|")) for span in re.findall(r"`([^`]+)`", line))
    return out


def _commands(snippet: str) -> list[str]:
    """Each tool invocation in a snippet, including those inside $( ) and after pipes."""
    pieces = re.split(r"\$\(|\)|\||&&|;", snippet)
    return [p.strip() for p in pieces if p.strip().startswith(TOOLS)]


def doc_commands(root: Path, files: list[str] = DOCS) -> list[DocCommand]:
    found = []
    for name in files:
        path = root / name
        if not path.exists():
            continue
        for line, snippet in _snippets(path.read_text()):
            for command in _commands(snippet):
                try:
                    words = shlex.split(command, comments=True)
                except ValueError:
                    words = command.split()
                found.append(DocCommand(name, line, words))
    return found
