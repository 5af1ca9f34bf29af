"""Secret scanning: no credential in the repository beyond the audited baseline.

detect-secrets' pre-commit hook runs over every file git tracks plus the untracked files git
does not ignore (what the next commit could add), against `.secrets.baseline`: the reviewed
false positives (Kubernetes Secret names, release checksums), each marked `is_secret: false`.
A second test proves the scanner bites: a file with an AWS-shaped access key and a password
assignment must fail it.

Refresh the baseline after a reviewed change (from the repository root):
    detect-secrets scan --baseline .secrets.baseline \
        --exclude-files '^(\\.venv|\\.tools|artifacts|data|local_outputs)/|^requirements\\.lock$'
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
from pathlib import Path

from toolbox import REPO_ROOT, venv_tool

BASELINE = REPO_ROOT / ".secrets.baseline"


def candidate_files() -> list[str]:
    """Tracked files, and untracked ones that are not ignored; the baseline itself excluded
    (it holds the hashes of the audited findings)."""
    names: set[str] = set()
    for extra in ([], ["--others", "--exclude-standard"]):
        listed = subprocess.run(
            ["git", "ls-files", "-z", *extra], capture_output=True, check=True, cwd=REPO_ROOT
        ).stdout.decode()
        names.update(name for name in listed.split("\0") if name)
    names.discard(BASELINE.name)
    return sorted(name for name in names if (REPO_ROOT / name).is_file())


def hook(baseline: Path, *files: str) -> subprocess.CompletedProcess[str]:
    """The pre-commit hook, against a copy of the baseline (the hook rewrites the baseline it
    is given when line numbers move; the repository's copy must stay untouched)."""
    return subprocess.run(
        [venv_tool("detect-secrets-hook"), "--baseline", str(baseline), *files],
        capture_output=True, text=True, cwd=REPO_ROOT, timeout=600,
    )  # fmt: skip


def test_no_secret_beyond_the_audited_baseline(tmp_path: Path) -> None:
    files = candidate_files()
    assert len(files) > 100, "git listed too few files: is this the repository?"
    baseline = tmp_path / "baseline.json"
    shutil.copy(BASELINE, baseline)
    result = hook(baseline, *files)
    assert result.returncode == 0, (
        f"detect-secrets-hook exited {result.returncode} (1: new potential secrets; 3: the "
        f"baseline's line numbers are stale, refresh it):\n{result.stdout[-4000:]}"
    )


def test_every_baselined_finding_was_reviewed_as_a_false_positive() -> None:
    results = json.loads(BASELINE.read_text())["results"]
    unreviewed = [
        f"{name}:{finding['line_number']} {finding['type']}"
        for name, findings in results.items()
        for finding in findings
        if finding.get("is_secret") is not False
    ]
    assert not unreviewed, f"audit these (detect-secrets audit .secrets.baseline): {unreviewed}"


def test_the_scanner_finds_a_planted_aws_key_and_password(tmp_path: Path) -> None:
    # Built at run time so this file holds no key-shaped literal for the scan above to find.
    entropy = hashlib.sha256(b"fraud-detection secret-scan fixture").digest()
    access_key = "AKIA" + base64.b32encode(entropy).decode()[:16]
    password = base64.b64encode(entropy).decode()[:24]
    leak = tmp_path / "settings.py"
    leak.write_text(f'AWS_ACCESS_KEY_ID = "{access_key}"\nDB_PASSWORD = "{password}"\n')
    baseline = tmp_path / "baseline.json"
    shutil.copy(BASELINE, baseline)
    result = hook(baseline, str(leak))
    assert result.returncode == 1, result.stdout
    assert "AWS Access Key" in result.stdout
    assert "Secret Keyword" in result.stdout or "High Entropy String" in result.stdout
