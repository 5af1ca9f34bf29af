"""Feast imported for reading skips typeguard's checks of definitions; applying keeps them.

Each case runs in a fresh interpreter: whether Feast's classes are instrumented is decided once
per process, when Feast is first imported.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fresh_interpreter import last_line_printed

# A definition with an argument of the wrong type (a description must be a string).
DEFINE = (
    "import feast, typeguard\n"
    "try:\n"
    "    feast.Entity(name='customer', join_keys=['customer_id'], description=5)\n"
    "    verdict = 'accepted'\n"
    "except typeguard.TypeCheckError:\n"
    "    verdict = 'refused'\n"
)


# How each kind of process first imports Feast.
APPLYING = "import fraud_detection.features.store\n"  # `make features`, `feast apply`
READING = (  # a serving worker, the training-set step
    "from fraud_detection.features.feast_import import import_for_reading\nimport_for_reading()\n"
)


@pytest.mark.parametrize(
    ("first", "expected"),
    [
        # Applying imports Feast as it is: a bad definition is refused.
        (APPLYING, "refused"),
        # Reading: the registry's objects were checked when they were applied.
        (READING, "accepted"),
        # Too late to change anything once Feast is imported: the checked classes stay.
        ("import feast\n" + READING, "refused"),
    ],
    ids=["applying", "reading", "reading-after-applying"],
)
def test_definitions_are_type_checked_unless_feast_was_imported_for_reading(
    first: str, expected: str, tmp_path: Path
) -> None:
    assert last_line_printed(first + DEFINE + "print(verdict)", tmp_path) == expected


def test_reading_leaves_typeguard_as_it_was_for_other_code(tmp_path: Path) -> None:
    program = (
        "import typeguard\n"
        "before = typeguard.typechecked\n"
        "from fraud_detection.features.feast_import import import_for_reading\n"
        "import_for_reading()\n"
        "print(typeguard.typechecked is before)\n"
    )
    assert last_line_printed(program, tmp_path) == "True"
