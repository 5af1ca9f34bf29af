"""Content fingerprints: they let cached steps follow the data, not just its path."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any


def of_files(*paths: Path) -> str:
    """SHA-256 over the files' bytes (missing files count as empty), first 16 hex digits."""
    sha = hashlib.sha256()
    for path in paths:
        sha.update(path.name.encode())
        if path.exists():
            with path.open("rb") as handle:
                for chunk in iter(lambda: handle.read(1 << 20), b""):
                    sha.update(chunk)
    return sha.hexdigest()[:16]


def of_value(value: Any) -> str:
    """Fingerprint of a JSON-serialisable value (settings, for instance)."""
    text = json.dumps(value, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
