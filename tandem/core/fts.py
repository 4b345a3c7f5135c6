"""SQLite FTS5 helpers for the indexed substring searches (the directory, the client registry).

The FTS5 tables use the trigram tokenizer, so a quoted phrase matches wherever the text
contains it, case-insensitively — what ``icontains`` does — for three characters or more.
"""

from __future__ import annotations

MIN_CHARS = 3  # the trigram tokenizer cannot look up anything shorter


def fts_phrase(text: str) -> str:
    """``text`` as one FTS5 phrase: quoted, inner quotes doubled, so no character of the
    user's input is read as query syntax."""
    return '"' + text.replace('"', '""') + '"'
