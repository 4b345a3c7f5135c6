"""Deconfliction, the shortcuts that make a scan cheaper decide exactly what Splink would.

Each shortcut in ``recovery.linkage`` must leave every score as it was: the cheap test in
front of the Damerau-Levenshtein levels, the full-name rule used when no record has an alias,
and the Linker a training leaves ready for the scan that follows it.
"""

from __future__ import annotations

import json
import random
import string
from datetime import date, timedelta
from typing import Any

import pytest

from tandem.recovery import linkage

# ========================================================================================
# Helpers
# ========================================================================================


def registry(size: int, *, aliases: bool, seed: int = 3) -> list[dict[str, Any]]:
    """``size`` clients, one in five typed in again with a slip; some names missing."""
    rng = random.Random(seed)
    first = ["ann", "bob", "cara", "dev", "eli", "fay", "gus", "hal", "ida", "jon", ""]
    last = ["rivera", "smith", "nguyen", "kowalski", "haddad", "becker", "oneill", ""]
    people = []
    for uid in range(size):
        if uid % 5 == 4:
            twin = dict(people[rng.randrange(len(people))], uid=uid)
            twin["first_name"] = twin["first_name"][:-1]
            people.append(twin)
            continue
        people.append(
            {
                "uid": uid,
                "first_name": rng.choice(first),
                "last_name": rng.choice(last),
                "aliases": rng.choice(["", "", "", "jj", "big al"]) if aliases else "",
                "date_of_birth": date(1960, 1, 1) + timedelta(days=rng.randrange(9000)),
                "phone": f"540555{rng.randrange(10000):04d}" if rng.random() < 0.7 else "",
                "address": rng.choice(["", "12 elm street", "4 oak lane", "9 pine road"]),
            }
        )
    return [linkage.record_of(**person) for person in people]


def scores(pairs: list[linkage.ScoredPair]) -> dict[tuple[int, int], tuple[float, list[str]]]:
    return {(p.left, p.right): (p.probability, [f.level for f in p.fields]) for p in pairs}


# ========================================================================================
# 1. The cheap test in front of Damerau-Levenshtein never changes the level
# ========================================================================================


def test_the_one_edit_level_holds_for_exactly_the_pairs_within_one_edit() -> None:
    rng = random.Random(11)
    words = []
    for _ in range(400):
        word = "".join(rng.choice("0123456789-ab") for _ in range(rng.randint(0, 11)))
        words.append(word)
        edited = list(word)
        if edited:
            i = rng.randrange(len(edited))
            kind = rng.choice(["swap", "change", "drop", "add"])
            if kind == "swap" and i + 1 < len(edited):
                edited[i], edited[i + 1] = edited[i + 1], edited[i]
            elif kind == "change":
                edited[i] = rng.choice(string.digits)
            elif kind == "drop":
                del edited[i]
            else:
                edited.insert(i, rng.choice(string.digits))
        words.append("".join(edited))
    pairs = [(a, b) for a, b in zip(words[::2], words[1::2], strict=True)]
    pairs += [(rng.choice(words), rng.choice(words)) for _ in range(2000)]

    level = linkage._one_edit("dob").get_comparison_level("duckdb").sql_condition
    api = linkage._thread_api()
    query = (
        f"SELECT coalesce({level}, false), damerau_levenshtein(dob_l, dob_r) <= 1"  # noqa: S608 - the level's own SQL
        " FROM (SELECT unnest($l) AS dob_l, unnest($r) AS dob_r)"
    )
    rows = api._con.execute(
        query,
        {"l": [a for a, _ in pairs], "r": [b for _, b in pairs]},
    ).fetchall()
    assert len(rows) == len(pairs)
    assert sum(1 for guarded, plain in rows if plain) > 300  # the test sees both outcomes
    assert [guarded for guarded, _ in rows] == [plain for _, plain in rows]


# ========================================================================================
# 2. Without aliases, full-name equality pairs exactly who sharing a known name would
# ========================================================================================


def test_a_registry_without_aliases_is_paired_and_scored_as_with_the_names_rule() -> None:
    records = registry(400, aliases=False)
    model = linkage.train(records)
    plain = linkage.predict(records, model)
    # What Splink's exploding rule finds on the same records, two records known only by a
    # last name included.
    api, ready = linkage._ready(linkage._splink_model(model), aliases=True)
    api._con.register(ready.views["all"], linkage._table(records))
    ready.linker.table_management.invalidate_cache()
    frame = ready.linker.inference.predict(warning_mode="never")
    exploded = linkage._scored(linkage._rows(frame), model)
    assert scores(plain) == scores(exploded)
    assert any(
        records[p.left]["first_name"] is None and records[p.right]["first_name"] is None
        for p in plain
    )


def test_aliases_still_pair_a_record_with_the_one_known_by_that_name() -> None:
    known = linkage.record_of(uid=1, first_name="Thomas", last_name="Becker", aliases="Tommy B")
    typed = linkage.record_of(uid=2, first_name="Tommy", last_name="B")
    pairs = linkage.predict([known, typed], linkage.prior_model())
    assert [(p.left, p.right) for p in pairs] == [(1, 2)]


# ========================================================================================
# 3. The scan after a training scores as a scan with the stored model
# ========================================================================================


def test_the_scan_after_a_training_scores_as_the_stored_model_does() -> None:
    records = registry(400, aliases=True)
    model = linkage.train(records)
    assert model["estimated"]
    right_after = linkage.predict(records, model)
    stored = json.loads(json.dumps(model))
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as other_thread:
        later = other_thread.submit(linkage.predict, records, stored).result()
    assert right_after
    assert scores(right_after) == scores(later)


def test_a_training_that_fails_leaves_the_worker_connection_as_it_was(
    monkeypatch: Any,
) -> None:
    records = registry(400, aliases=False)
    linkage.predict(records, linkage.prior_model())
    api = linkage._thread_api()

    def leftovers() -> tuple[int, int]:
        views = api._con.execute(
            "SELECT count(*) FROM duckdb_views() WHERE NOT internal AND view_name LIKE 'tandem_%'"
        ).fetchall()
        tables = api._con.execute("SELECT count(*) FROM duckdb_tables()").fetchall()
        return int(views[0][0]), int(tables[0][0])

    before = leftovers()
    monkeypatch.setattr(linkage, "training_rules", lambda: ["l.no_such_field = r.no_such_field"])
    with pytest.raises(Exception, match="no_such_field"):
        linkage.train(records)
    assert leftovers() == before
    monkeypatch.undo()
    linkage.train(records)  # and the connection still trains
    assert leftovers()[1] == 0
