"""The four-conversation DB with hand-computable stages, transitions and survey answers
that the query and figure tests of the "Thought types & stages" and Participants pages
count against (ingest stage only: no model, about a second to build).

Stages by the relative rule (n messages)::

    c1 (4): u tm | a ea | u tc | a cr                  stages 0 1 2 3
    c2 (2): u tm so | a ea                             stages 0 3
    c3 (6): u tm | a ea | u tc | a ps | u tr | a ea    stages 0 0 1 2 3 3
    c4 (4): u tm | a cr | u (none) | a (none)          stages 0 1 2 3

Survey: c1 the default answers (age 31, Female, Graduate, Teacher, 4, "work"); c2 age 366,
" male ", Graduate, "TEACHER.", 5, "Coding and writing"; c3 age 22, Male, no education,
" teacher", 2, "zzz"; c4 no survey at all. c3 and c4 are one user (user3).
"""

from __future__ import annotations

from pathlib import Path

from tests.corpus import conversation, ingest_db, write_jsonl

TM, TC, TR, SO = "task_motivation", "task_continuation", "task_reorientation", "social_and_others"
EA, CR, PS = "explicit_affirmation", "content_relevance", "presentation_style"

C1, C2 = "user1_task1_conversation1", "user2_task1_conversation1"
C3, C4 = "user3_task1_conversation1", "user3_task2_conversation1"


def records() -> list[dict]:
    """The four conversations (see the module docstring)."""
    return [
        conversation(C1, [("q1", [TM]), ("a1", [EA]), ("q2", [TC]), ("a2", [CR])],
                     model="M1"),
        conversation(C2, [("q1", [TM, SO]), ("a1", [EA])], model="M2",
                     survey=[{"age": "366", "gender": " male ", "education": "Graduate",
                              "occupation": "TEACHER.", "frequency": "5",
                              "purposes": "Coding and writing"}]),
        conversation(C3, [("q1", [TM]), ("a1", [EA]), ("q2", [TC]), ("a2", [PS]),
                          ("q3", [TR]), ("a3", [EA])], model="M1",
                     survey=[{"age": "22", "gender": "Male", "education": "",
                              "occupation": " teacher", "frequency": "2", "purposes": "zzz"}]),
        conversation(C4, [("q1", [TM]), ("a1", [CR]), ("q2", []), ("a2", [])], model="M2",
                     survey=[]),
    ]


def build_tiny_db(directory: Path) -> Path:
    """The tiny DB, ingested into ``directory``/tiny.duckdb."""
    return ingest_db(write_jsonl(directory / "tiny.jsonl", records()), directory / "tiny.duckdb")
