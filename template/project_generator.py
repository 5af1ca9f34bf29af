"""Generate a new project from this repository: its committed files, the options, new names.

The repository is its own template (docs/template.md). The post-generation hook fills the
directory cookiecutter created with the files committed at HEAD, less what the options leave
out (template/options.py), with each marker block kept, uncommented, filled or dropped, and
every whole token naming the example replaced: each value of its project.env by the answers'
value for that key, and the CamelCase forms of the package and model names. project.env is
rewritten from the answers; no old name may survive. Then ruff tidies the changed Python files,
the pipeline is recompiled with the new code, .secrets.baseline follows the moved lines, and
git starts the history. Nothing else is edited: no sentence, no test body.
"""

from __future__ import annotations

import io
import re
import subprocess
import sys
import tarfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from answers import Answers, TemplateError, camel
from finish import follow_secrets_baseline, recompile, tidy_python
from options import OPTIONS

IDENTITY_FILE = "project.env"
CAMEL_KEYS = ("PACKAGE_NAME", "MODEL_NAME")  # FraudDetectionError, the FraudDetector service
WORD = "A-Za-z0-9_"
PLACEHOLDER = ".cookiecutter-placeholder"  # makes cookiecutter create the directory
# `# >>> name` ... `# <<< name`, or `<!-- >>> name -->` ... `<!-- <<< name -->`, alone on a line;
# and one Markdown line ending in `<!-- >>> name <<< -->`.
MARKER = re.compile(r"^(?P<indent>[ \t]*)(?:# |<!-- )(?P<edge>>>>|<<<) (?P<name>[a-z][a-z0-9-]*)"
                    r"(?: -->)?[ \t]*$")  # fmt: skip
LINE_MARKER = re.compile(r"[ \t]*<!-- >>> (?P<name>[a-z][a-z0-9-]*) <<< -->[ \t]*$")


@dataclass
class File:
    data: bytes
    executable: bool = False
    symlink: bool = False

    def text(self) -> str | None:
        """The content as text; None for a link or binary content (copied byte for byte)."""
        try:
            return None if self.symlink or b"\0" in self.data else self.data.decode()
        except UnicodeDecodeError:
            return None


Files = dict[str, File]


# --- names ----------------------------------------------------------------------------------


def read_identity(text: str) -> dict[str, str]:
    """project.env's KEY=value lines (comments stand on lines of their own)."""
    return dict(re.findall(r"(?m)^([A-Z][A-Z0-9_]*)=(.*?)[ \t]*$", text))


def token_map(old: Mapping[str, str], new: Mapping[str, str]) -> dict[str, str]:
    """Old token -> new token: every project.env value, and the CamelCase forms."""
    if set(old) != set(new):
        keys = f"{IDENTITY_FILE} has {sorted(old)}, the answers give {sorted(new)}"
        raise TemplateError(f"{keys}: derive each key in Answers.identity (template/answers.py)")
    pairs = [(old[k], new[k]) for k in old] + [(camel(old[k]), camel(new[k])) for k in CAMEL_KEYS]
    tokens: dict[str, str] = {}
    for before, after in pairs:
        if before and tokens.setdefault(before, after) != after:
            raise TemplateError(f"{IDENTITY_FILE}: {before!r} would become two different names")
    return {before: after for before, after in tokens.items() if before != after}


def renamer(tokens: Mapping[str, str]) -> Callable[[str], str]:
    """Whole-token substitution, longest token first. A token starts after a character that is
    not [A-Za-z0-9_] and ends before one (a CamelCase token before one that is not [a-z0-9_]),
    so `-` and `.` may follow: fraud-detection-x and fraud-detection.fullname follow the slug."""
    right = {True: "a-z0-9_", False: WORD}  # CamelCase, or not
    longest_first = sorted(tokens, key=len, reverse=True)
    alternatives = [
        rf"(?<![{WORD}]){re.escape(t)}(?![{right[t[0].isupper()]}])" for t in longest_first
    ]
    pattern = re.compile("|".join(alternatives) or "(?!)")
    return lambda text: pattern.sub(lambda match: tokens[match.group(0)], text)


def check_no_survivor(files: Files, tokens: Iterable[str], kept: Iterable[str]) -> None:
    """No old name is left, even one the boundaries kept from being a token (fraud_features_v2)."""
    answered = " ".join(kept)
    old = "|".join(re.escape(token) for token in tokens if token not in answered)
    pattern = re.compile(rf"(?<![{WORD}])(?:{old})" if old else "(?!)")
    texts = {path: f"{path}\n{file.text() or ''}" for path, file in files.items()}
    found = [
        f"{path}: {match[0]}" for path, text in texts.items() if (match := pattern.search(text))
    ]
    if found:
        how = f"name it through a {IDENTITY_FILE} value, or a marker, there"
        raise TemplateError(f"these files still name the example; {how}:\n  " + "\n  ".join(found))


# --- markers --------------------------------------------------------------------------------


@dataclass
class Block:
    name: str
    line: int
    indent: str
    body: list[str] = field(default_factory=list)

    def uncommented(self, path: str) -> list[str]:
        """The block's lines without the `# ` (or `#`) after the marker's indentation."""
        out = []
        for line in self.body:
            rest = line.removeprefix(self.indent)
            if line.strip() and not rest.startswith("#"):
                raise TemplateError(f"{path}:{self.line}: the {self.name} block is not commented")
            out.append(
                line if not line.strip() else self.indent + rest[2 if rest[1] == " " else 1 :]
            )
        return out


def apply_markers(path: str, text: str, answers: Answers) -> str:
    """Keep, uncomment, fill or drop each marker block; the marker lines never stay. A block
    dropped after a blank line takes the blank lines that follow it along."""
    out: list[str] = []
    stack: list[Block] = []
    skip_blank = False
    for number, line in enumerate(text.splitlines(keepends=True), 1):
        marker, single = MARKER.match(line), LINE_MARKER.search(line)
        name = found.group("name") if (found := marker or single) else ""
        if name and name not in OPTIONS:
            raise TemplateError(f"{path}:{number}: unknown marker {name!r} (template/options.py)")
        if skip_blank and not line.strip():
            continue
        skip_blank = False
        target = stack[-1].body if stack else out
        if marker and marker.group("edge") == ">>>":
            stack.append(Block(name, number, marker.group("indent")))
        elif marker:
            if not stack or stack[-1].name != name:
                raise TemplateError(f"{path}:{number}: `<<< {name}` closes no `>>> {name}`")
            block, option = stack.pop(), OPTIONS[name]
            target = stack[-1].body if stack else out
            if not option.keep(answers):
                skip_blank = not target or not target[-1].strip()
            elif option.fill:
                target += option.fill(path, block.body, answers)
            else:
                target += block.uncommented(path) if option.commented else block.body
        elif single:
            target += [line[: single.start()] + "\n"] if OPTIONS[name].keep(answers) else []
        else:
            target.append(line)
    if stack:
        raise TemplateError(f"{path}:{stack[-1].line}: `>>> {stack[-1].name}` is never closed")
    return "".join(out)


def left_out(files: Files, answers: Answers, template: str) -> set[str]:
    """The paths the options leave out. Every path the manifest lists must exist."""
    gone = {path for path in files if path.startswith(f"{template}/")}
    for name, option in OPTIONS.items():
        for entry in option.paths:
            matched = {p for p in files if p == entry or (entry[-1] == "/" and p.startswith(entry))}
            if not matched:
                raise TemplateError(f"template/options.py: {name} lists {entry}, which is gone")
            gone |= set() if option.keep(answers) else matched
    return gone


@dataclass
class Generated:
    files: Files
    origin: dict[str, str]  # generated path -> repository path
    rename: Callable[[str], str]


def generate(files: Files, answers: Answers, template: str = "template") -> Generated:
    """The new project's files from the repository's, in memory."""
    if IDENTITY_FILE not in files:
        raise TemplateError(f"the repository has no {IDENTITY_FILE}")
    new = answers.identity()
    tokens = token_map(read_identity(files[IDENTITY_FILE].text() or ""), new)
    rename = renamer(tokens)
    gone = left_out(files, answers, template)
    result = Generated({}, {}, rename)
    for path, file in sorted(files.items()):
        if path in gone:
            continue
        if (text := file.text()) is not None:
            file = replace(file, data=apply_markers(path, rename(text), answers).encode())
        result.files[rename(path)], result.origin[rename(path)] = file, path
    identity = result.files[IDENTITY_FILE]
    line = re.compile(r"(?m)^([A-Z][A-Z0-9_]*)=.*$")
    identity.data = line.sub(lambda m: f"{m[1]}={new[m[1]]}", identity.text() or "").encode()
    check_no_survivor(result.files, tokens, [*new.values(), answers.project_name, answers.author])
    return result


# --- the repository and the new project directory ------------------------------------------


def git(*args: str, cwd: Path) -> str:
    result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise TemplateError(f"git {' '.join(args)} failed in {cwd}: {result.stderr.strip()}")
    return result.stdout


def repository_files(root: Path, commit: str) -> Files:
    """The files committed at `commit`, with their executable bits and symbolic links."""
    command = ["git", "archive", "--format=tar", commit]
    archive = subprocess.run(command, cwd=root, capture_output=True, check=False)
    if archive.returncode != 0:
        raise TemplateError(f"git archive {commit} failed: {archive.stderr.decode().strip()}")
    files: Files = {}
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        for member in tar.getmembers():
            if member.issym():
                files[member.name] = File(member.linkname.encode(), symlink=True)
            elif member.isfile() and (extracted := tar.extractfile(member)):
                files[member.name] = File(extracted.read(), bool(member.mode & 0o111))
    return files


def write(files: Files, project_dir: Path) -> None:
    for path, file in sorted(files.items()):
        target = project_dir / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if file.symlink:
            target.symlink_to(file.data.decode())
        else:
            target.write_bytes(file.data)
            target.chmod(0o755 if file.executable else 0o644)


# --- the post-generation hook ---------------------------------------------------------------


def post_generate(context: Mapping[str, Any], project_dir: Path, templates: Path) -> int:
    """The post-generation hook: fill the project, 1 (cookiecutter then removes it) on error."""

    def say(*lines: str) -> None:
        sys.stdout.write("".join(f"{line}\n" for line in lines))

    answers = Answers.of(context)
    try:
        root = Path(git("rev-parse", "--show-toplevel", cwd=templates).strip())
        commit = git("rev-parse", "HEAD", cwd=root).strip()
        repository = repository_files(root, commit)
        template = templates.relative_to(root.resolve()).as_posix()
        generated = generate(repository, answers, template)
    except TemplateError as error:
        sys.stderr.write(f"error: {error}\n")
        return 1
    (project_dir / PLACEHOLDER).unlink(missing_ok=True)
    write(generated.files, project_dir)
    given = str(context.get("_template", ""))
    source = given if re.match(r"^[\w+.-]+://|^[\w.-]+@", given) else str(root)
    say(f"Generated {answers.slug} from {source} at {commit[:12]} ({len(generated.files)} files).")
    changed = [p for p, f in generated.files.items() if p.endswith(".py")
               and f.data != repository[generated.origin[p]].data]  # fmt: skip
    say(f"Python: {tidy_python(project_dir, sorted(changed), root)}.")
    if generated.files[IDENTITY_FILE].data != repository[IDENTITY_FILE].data:
        say(f"Pipeline: {recompile(project_dir, root, answers.package)}.")
    origin, rename = generated.origin, generated.rename
    follow_secrets_baseline(
        project_dir, lambda p: rename(repository[origin[p]].text() or "") if p in origin else None
    )
    if git("status", "--porcelain", "--untracked-files=no", cwd=root).strip():
        say(f"Note: {root} has uncommitted changes; the project has the committed files.")
    git("init", "--quiet", cwd=project_dir)
    git("add", "--all", cwd=project_dir)
    answered = "".join(f"  {k}: {context[k]}\n" for k in sorted(context) if k[0] != "_")
    try:
        message = f"{answers.project_name}: generated from {source} at {commit}\n\n{answered}"
        git("commit", "--quiet", "--no-verify", "-m", message, cwd=project_dir)
        say("Initialised a git repository with the generated files as its first commit.")
    except TemplateError as error:
        say(f"Initialised a git repository without a commit ({str(error).splitlines()[-1]}):",
            "set git's user.name and user.email, then: git commit -m 'Initial commit'")  # fmt: skip
    kind = ", docs/kind.md how to run one locally" if answers.include_kind else ""
    say(f"\nNext: cd {project_dir}; make demo; make test. docs/cluster.md says what a cluster")
    say(f"of your own needs{kind}. Then replace the fraud example's data, features and model.")
    return 0
