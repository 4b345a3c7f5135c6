"""Record linkage for the client registry (PR-2, issue 13), with Splink.

One model scores every pair of client records: the nightly scan of the whole registry, the
on-demand scan from the Deconflict page, the warning shown while a client is typed in and
the spreadsheet import all call :func:`predict` or :func:`score` with the agency's trained
model, so they always agree.

* **Records.** :func:`record_of` turns a client (or an imported row) into the flat record
  Splink compares: normalised first and last name, full name and aliases, date of birth as
  ``YYYY-MM-DD``, phone digits, a normalised address and the sorted substance codes.
  Missing values are ``None`` (Splink's null level, neither for nor against).
* **Model.** Fellegi-Sunter comparisons suited to those fields (:func:`comparisons`): names
  with Jaro-Winkler levels, another known name in common, date of birth exact / day and
  month swapped / one typo / same year, phone exact / last seven digits / one typo, address
  exact or close, substances in common. Parameters start from documented priors
  (:data:`PRIOR_M`, :data:`PRIOR_U`) and are re-estimated from the agency's own registry
  (random sampling for *u*, expectation maximisation for *m*) once it is large enough
  (:data:`MIN_RECORDS_FOR_EM`); a tiny registry keeps the priors.
* **Back ends.** DuckDB in process by default; :func:`database_api` gives Splink's Spark
  back end for a statewide deployment (see ``docs/linkage-spark.md``).

Nothing here touches the database or the CJI compartment: callers pass plain records.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import logging
import threading
import unicodedata
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

#: Below this many records the registry keeps the prior parameters (EM needs data).
MIN_RECORDS_FOR_EM = 300
#: Pairs sampled to estimate *u* (how often fields agree by chance), in one pass: 50,000
#: random pairs see every level of our comparisons often enough (the rarest, an exact date
#: of birth, has u near 1e-4) and F1 on FEBRL1/FEBRL4 is the same as with 200,000, in a
#: fifth of the time (``bench/linkage.py``).
U_SAMPLE_PAIRS = 50_000
#: Prior probability that two random records of a registry are the same person.
PRIOR_MATCH_PROBABILITY = 1e-4
#: What Tandem notes on a model beside Splink's settings (never given to Splink): how many
#: records it was trained on, when (set by the caller that stores it), and whether EM ran.
MODEL_NOTES = ("trained_on", "trained_at", "estimated")

#: Plain words for each comparison (the explanation's "field").
FIELD_LABELS = {
    "first_name": "First name",
    "last_name": "Last name",
    "aliases": "Aliases",
    "dob": "Date of birth",
    "phone": "Phone",
    "address": "Address",
    "substances": "Substances",
}

#: Prior m (P(level | same person)) and u (P(level | different people)) per comparison,
#: levels in order from the best agreement to "anything else" (null levels carry none).
#: Written from the field's usual data quality in a co-responder registry; replaced by
#: estimates from the agency's own data when the registry is large enough.
PRIOR_M: dict[str, list[float]] = {
    "first_name": [0.80, 0.02, 0.07, 0.04, 0.07],
    "last_name": [0.85, 0.02, 0.06, 0.03, 0.04],
    "aliases": [0.25, 0.15, 0.60],
    "dob": [0.85, 0.03, 0.07, 0.02, 0.03],
    "phone": [0.70, 0.05, 0.05, 0.20],
    "address": [0.50, 0.20, 0.30],
    "substances": [0.40, 0.30, 0.30],
}
PRIOR_U: dict[str, list[float]] = {
    "first_name": [0.005, 0.0001, 0.002, 0.008, 0.9849],
    "last_name": [0.002, 0.0001, 0.001, 0.005, 0.9919],
    "aliases": [0.0002, 0.0005, 0.9993],
    "dob": [0.0001, 0.00001, 0.0006, 0.01, 0.98929],
    "phone": [0.0001, 0.0001, 0.0005, 0.9993],
    "address": [0.001, 0.002, 0.997],
    "substances": [0.05, 0.30, 0.65],
}


def normalise(text: str | None) -> str:
    """Lower case, accents dropped, punctuation to spaces, spaces squeezed."""
    folded = unicodedata.normalize("NFKD", text or "")
    plain = "".join(c for c in folded if not unicodedata.combining(c)).lower()
    return " ".join("".join(c if c.isalnum() else " " for c in plain).split())


def digits(text: str | None) -> str:
    return "".join(c for c in text or "" if c.isdigit())[-10:]


def record_of(
    *,
    uid: int,
    first_name: str = "",
    last_name: str = "",
    aliases: str = "",
    date_of_birth: date | str | None = None,
    phone: str = "",
    address: str = "",
    substances: Iterable[str] = (),
) -> dict[str, Any]:
    """The flat record Splink compares (empty values become ``None``)."""
    first, last = normalise(first_name), normalise(last_name)
    known = {normalise(a) for a in (aliases or "").replace(";", ",").split(",")}
    known.discard("")
    dob = date_of_birth.isoformat() if isinstance(date_of_birth, date) else date_of_birth
    return {
        "unique_id": uid,
        "first_name": first or None,
        "last_name": last or None,
        "full_name": f"{first} {last}".strip() or None,
        "aliases": sorted(known) or None,
        # Only for blocking: a pair sharing any known name is scored.
        "names": sorted(known | {f"{first} {last}".strip()} - {""}) or None,
        "dob": dob or None,
        "phone": digits(phone) or None,
        "address": normalise(address) or None,
        "substances": sorted(set(substances)) or None,
    }


def _one_edit(column: str) -> Any:
    """Splink's Damerau-Levenshtein level (distance at most 1), behind a test that is cheap
    and never wrong: one edit (a character changed, dropped or added, or two neighbours
    swapped) in a string of seven or more characters leaves its first three or its last three
    unchanged. Most random pairs fail that test, so the costly distance runs on few of the
    pairs that *u* is estimated from; the level holds for exactly the same pairs as the
    distance alone. (The test is short on purpose: Splink parses each level's SQL whenever a
    model is loaded.)"""
    import splink.comparison_level_library as cll

    left, right = f"{column}_l", f"{column}_r"
    cheap = (
        f"length({left}) < 7 OR left({left}, 3) = left({right}, 3)"
        f" OR right({left}, 3) = right({right}, 3)"
    )
    return cll.And(
        cll.CustomLevel(cheap, base_dialect_str="duckdb"),
        cll.DamerauLevenshteinLevel(column, 1),
    ).configure(label_for_charts="one digit different or two swapped")


def comparisons() -> list[Any]:
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    swap = (
        "substr(dob_l, 1, 4) = substr(dob_r, 1, 4) AND substr(dob_l, 6, 2) = substr(dob_r, 9, 2)"
        " AND substr(dob_l, 9, 2) = substr(dob_r, 6, 2)"
    )
    return [
        cl.CustomComparison(
            output_column_name="first_name",
            comparison_levels=[
                cll.NullLevel("first_name"),
                cll.ExactMatchLevel("first_name").configure(label_for_charts="the same"),
                cll.CustomLevel(
                    "first_name_l = last_name_r AND last_name_l = first_name_r",
                    "swapped with the other name",
                ),
                cll.JaroWinklerLevel("first_name", 0.92).configure(
                    label_for_charts="nearly the same (a typo)"
                ),
                cll.JaroWinklerLevel("first_name", 0.80).configure(label_for_charts="similar"),
                cll.ElseLevel().configure(label_for_charts="different"),
            ],
        ),
        cl.CustomComparison(
            output_column_name="last_name",
            comparison_levels=[
                cll.NullLevel("last_name"),
                cll.ExactMatchLevel("last_name").configure(label_for_charts="the same"),
                cll.CustomLevel(
                    "last_name_l = first_name_r AND first_name_l = last_name_r",
                    "swapped with the other name",
                ),
                cll.JaroWinklerLevel("last_name", 0.92).configure(
                    label_for_charts="nearly the same (a typo)"
                ),
                cll.JaroWinklerLevel("last_name", 0.80).configure(label_for_charts="similar"),
                cll.ElseLevel().configure(label_for_charts="different"),
            ],
        ),
        cl.CustomComparison(
            output_column_name="aliases",
            comparison_levels=[
                cll.CustomLevel("aliases_l IS NULL AND aliases_r IS NULL").configure(
                    is_null_level=True
                ),
                cll.CustomLevel(
                    "coalesce(array_contains(aliases_l, full_name_r), false)"
                    " OR coalesce(array_contains(aliases_r, full_name_l), false)"
                    " OR coalesce(array_contains(aliases_l, first_name_r), false)"
                    " OR coalesce(array_contains(aliases_r, first_name_l), false)",
                    "one is known by the other's name",
                ),
                cll.ArrayIntersectLevel("aliases", 1).configure(
                    label_for_charts="an alias in common"
                ),
                cll.ElseLevel().configure(label_for_charts="no alias in common"),
            ],
        ),
        cl.CustomComparison(
            output_column_name="dob",
            comparison_levels=[
                cll.NullLevel("dob"),
                cll.ExactMatchLevel("dob").configure(label_for_charts="the same"),
                cll.CustomLevel(swap, "day and month swapped"),
                _one_edit("dob"),
                cll.CustomLevel("substr(dob_l, 1, 4) = substr(dob_r, 1, 4)", "same year only"),
                cll.ElseLevel().configure(label_for_charts="different"),
            ],
        ),
        cl.CustomComparison(
            output_column_name="phone",
            comparison_levels=[
                cll.NullLevel("phone"),
                cll.ExactMatchLevel("phone").configure(label_for_charts="the same"),
                cll.CustomLevel(
                    "substr(phone_l, -7) = substr(phone_r, -7)", "same last seven digits"
                ),
                _one_edit("phone"),
                cll.ElseLevel().configure(label_for_charts="different"),
            ],
        ),
        cl.CustomComparison(
            output_column_name="address",
            comparison_levels=[
                cll.NullLevel("address"),
                cll.ExactMatchLevel("address").configure(label_for_charts="the same"),
                cll.JaroWinklerLevel("address", 0.88).configure(label_for_charts="similar"),
                cll.ElseLevel().configure(label_for_charts="different"),
            ],
        ),
        cl.CustomComparison(
            output_column_name="substances",
            comparison_levels=[
                cll.NullLevel("substances"),
                cll.ArrayIntersectLevel("substances", 2).configure(
                    label_for_charts="two or more in common"
                ),
                cll.ArrayIntersectLevel("substances", 1).configure(
                    label_for_charts="one in common"
                ),
                cll.ElseLevel().configure(label_for_charts="none in common"),
            ],
        ),
    ]


def blocking_rules() -> list[Any]:
    """Which pairs are scored at all: a pair must share one of these."""
    from splink import block_on

    return [
        block_on("dob"),
        block_on("phone"),
        block_on("last_name", "substr(first_name, 1, 1)"),
        block_on("first_name", "substr(dob, 1, 4)"),
        "l.first_name = r.last_name AND l.last_name = r.first_name",
        block_on("address"),
        block_on("names", arrays_to_explode=["names"]),
    ]


def training_rules() -> list[Any]:
    from splink import block_on

    return [block_on("dob"), block_on("last_name", "substr(first_name, 1, 1)")]


def _with_priors(model: dict[str, Any]) -> dict[str, Any]:
    for comparison in model["comparisons"]:
        name = comparison["output_column_name"]
        levels = [lv for lv in comparison["comparison_levels"] if not lv.get("is_null_level")]
        for level, m, u in zip(levels, PRIOR_M[name], PRIOR_U[name], strict=True):
            level["m_probability"] = m
            level["u_probability"] = u
    model["probability_two_random_records_match"] = PRIOR_MATCH_PROBABILITY
    return model


def prior_model(link_type: Any = "dedupe_only", dialect: str = "duckdb") -> dict[str, Any]:
    """The model before training: our comparisons with the documented priors, its SQL
    written for ``dialect`` (``duckdb`` or ``spark``). A fresh copy each time (callers
    change it); the SQL is generated once per process."""
    return dict(json.loads(_prior_json(link_type, dialect)))


@functools.lru_cache(maxsize=8)
def _prior_json(link_type: Any, dialect: str) -> str:
    from splink import SettingsCreator

    creator = SettingsCreator(
        link_type=link_type,
        comparisons=comparisons(),
        blocking_rules_to_generate_predictions=blocking_rules(),
        retain_intermediate_calculation_columns=True,
        retain_matching_columns=True,
        probability_two_random_records_match=PRIOR_MATCH_PROBABILITY,
    )
    return json.dumps(_with_priors(creator.get_settings(dialect).as_dict()))


def for_dialect(model: dict[str, Any], dialect: str) -> dict[str, Any]:
    """The same trained model with its SQL written for another back end: the comparisons
    are generated again for ``dialect`` and the estimated parameters copied over."""
    if model.get("sql_dialect") == dialect:
        return model
    moved = prior_model(model.get("link_type", "dedupe_only"), dialect)
    for target, source in zip(moved["comparisons"], model["comparisons"], strict=True):
        for level, trained in zip(
            target["comparison_levels"], source["comparison_levels"], strict=True
        ):
            for key in ("m_probability", "u_probability"):
                if key in trained:
                    level[key] = trained[key]
    moved["probability_two_random_records_match"] = model["probability_two_random_records_match"]
    moved.update({k: model[k] for k in MODEL_NOTES if k in model})
    return moved


def spark_jar() -> str:
    """Splink's jar of string-similarity functions, for ``spark.jars`` of the session."""
    from splink.backends.spark import similarity_jar_location

    return str(similarity_jar_location())


def _dialect(api: Any) -> str:
    return str(api.sql_dialect.sql_dialect_str)


def database_api(backend: str = "duckdb", **options: Any) -> Any:
    """Splink's database API: embedded DuckDB, or Spark (``spark=`` a SparkSession; other
    options go to Splink's ``SparkAPI``, e.g. ``break_lineage_method="persist"``)."""
    if backend == "spark":
        from splink import SparkAPI

        spark = options.pop("spark")
        return SparkAPI(spark_session=spark, **options)
    from splink import DuckDBAPI

    return DuckDBAPI()


def _table(records: Sequence[dict[str, Any]]) -> Any:
    """The records as an Arrow table with fixed column types, so that a column nobody
    filled in (no aliases in the whole registry) keeps its type on DuckDB and on Spark."""
    import pyarrow as pa

    text, texts = pa.string(), pa.list_(pa.string())
    schema = pa.schema(
        [
            ("unique_id", pa.int64()),
            ("first_name", text),
            ("last_name", text),
            ("full_name", text),
            ("aliases", texts),
            ("names", texts),
            ("dob", text),
            ("phone", text),
            ("address", text),
            ("substances", texts),
        ]
    )
    return pa.Table.from_pylist(list(records), schema=schema)


def _quiet() -> None:
    logging.getLogger("splink").setLevel(logging.ERROR)


def train(
    records: Sequence[dict[str, Any]],
    *,
    db_api: Any = None,
    u_pairs: int = U_SAMPLE_PAIRS,
    min_records: int = MIN_RECORDS_FOR_EM,
) -> dict[str, Any]:
    """The model estimated from these records (EM), or the priors for a tiny registry.

    On DuckDB (no ``db_api``) training runs on this thread's connection, and the Linker that
    trained is kept ready for the model it produced, over the records it already holds: the
    scan that follows a training (the nightly job) scores without building another."""
    _quiet()
    model = prior_model()
    if len(records) < min_records:
        model["trained_on"] = len(records)
        model["estimated"] = False
        return model
    api = db_api or _thread_api()
    model = for_dialect(model, _dialect(api))
    aliases = _any_alias(records)
    entry = None
    if db_api is None:
        entry = _new_entry(api)
        api._con.register(entry.views["all"], _table(records))
        table = entry.frames["all"]
    else:
        table = api.register(_table(records))
    # The blocking rules of the predictions play no part in training; the Linker gets those
    # the scan of these records will use, so that it can be kept for that scan.
    try:
        linker = _estimated(table, _blocking_for(model, aliases=aliases), u_pairs)
    except Exception:
        if entry is not None:  # leave the thread's connection as it was
            api.delete_tables_created_by_splink_from_db()
            _forget(api, entry)
        raise
    trained: dict[str, Any] = linker.misc.save_model_to_json()
    trained["blocking_rules_to_generate_predictions"] = model[
        "blocking_rules_to_generate_predictions"
    ]
    if entry is not None:
        # The connection outlives this training: drop what it materialised (blocked pairs,
        # comparison vectors of each EM session), which the next scan would not use.
        linker.table_management.invalidate_cache()
        api.delete_tables_created_by_splink_from_db()
        entry.linker = linker
        _keep(api, _model_key(trained, aliases=aliases), entry)
    trained["trained_on"] = len(records)
    trained["estimated"] = True
    return trained


def _estimated(table: Any, model: dict[str, Any], u_pairs: int) -> Any:
    """A Linker over ``table`` whose model was estimated from it: the prior probability of a
    match from pairs that agree on nearly everything, *u* from random pairs, *m* by EM."""
    from splink import block_on

    linker = _linker(table, model)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("dob", "last_name", "first_name"), block_on("phone", "last_name")], recall=0.7
    )
    # One pass over the sample (no probing in chunks): the sample is small enough.
    linker.training.estimate_u_using_random_sampling(max_pairs=u_pairs, seed=1, num_chunks=1)
    for rule in training_rules():
        # Each EM session starts from the model so far in a fresh linker: a session that
        # fails (a level never seen in this registry) leaves the model as it was.
        current = linker.misc.save_model_to_json()
        try:
            linker.training.estimate_parameters_using_expectation_maximisation(rule)
        except (ValueError, ZeroDivisionError):
            logging.getLogger(__name__).info("EM session skipped", exc_info=True)
            linker = _linker(table, current)
    return linker


def _splink_model(model: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in model.items() if k not in MODEL_NOTES}


@dataclass
class FieldWeight:
    field: str
    label: str
    level: str
    weight: float  # log2 Bayes factor: > 0 for, < 0 against, 0 when missing

    @property
    def words(self) -> str:
        if self.weight == 0:
            return "missing on one side: neither for nor against"
        strength = abs(self.weight)
        size = "strong" if strength >= 6 else "moderate" if strength >= 2 else "slight"
        side = "for" if self.weight > 0 else "against"
        return f"{size} evidence {side} the same person"


@dataclass
class ScoredPair:
    left: int
    right: int
    probability: float
    match_weight: float
    fields: list[FieldWeight] = field(default_factory=list)

    @property
    def disagreeing(self) -> list[str]:
        return [f.label for f in self.fields if f.weight < 0]

    def explanation(self) -> list[dict[str, Any]]:
        return [
            {"field": f.field, "label": f.label, "level": f.level, "weight": round(f.weight, 2)}
            for f in self.fields
        ]


def _level_labels(model: dict[str, Any]) -> dict[str, dict[int, str]]:
    labels: dict[str, dict[int, str]] = {}
    for comparison in model["comparisons"]:
        levels = comparison["comparison_levels"]
        name = comparison["output_column_name"]
        count = len([lv for lv in levels if not lv.get("is_null_level")])
        by_gamma: dict[int, str] = {-1: "missing"}
        for index, level in enumerate(lv for lv in levels if not lv.get("is_null_level")):
            by_gamma[count - 1 - index] = level.get("label_for_charts") or "compared"
        labels[name] = by_gamma
    return labels


def _scored(rows: Iterable[dict[str, Any]], model: dict[str, Any]) -> list[ScoredPair]:
    labels = _level_labels(model)
    pairs = []
    for row in rows:
        left, right = int(row["unique_id_l"]), int(row["unique_id_r"])
        fields = []
        for name, by_gamma in labels.items():
            gamma = int(row[f"gamma_{name}"])
            weight = float(row[f"mw_{name}"] or 0.0)
            fields.append(
                FieldWeight(name, FIELD_LABELS.get(name, name), by_gamma.get(gamma, ""), weight)
            )
        pairs.append(
            ScoredPair(
                left=min(left, right),
                right=max(left, right),
                probability=float(row["match_probability"]),
                match_weight=float(row["match_weight"]),
                fields=fields,
            )
        )
    pairs.sort(key=lambda p: (-p.probability, p.left, p.right))
    return pairs


def _rows(frame: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = frame.as_record_list()
    frame.drop_table_from_database_and_remove_from_cache()
    return rows


#: Models kept ready per thread (the agency's current one, mostly; a few agencies at most).
WARM_MODELS = 4
_local = threading.local()
_names = itertools.count(1)


@dataclass
class _Ready:
    """A Linker for one model on this thread's DuckDB connection, over three fixed views
    whose data each call replaces: the SQL of the model is generated once, not per call."""

    linker: Any
    frames: dict[str, Any]
    views: dict[str, str]


def _state() -> dict[str, Any]:
    state: dict[str, Any] | None = getattr(_local, "state", None)
    if state is None:
        state = _local.state = {"api": database_api(), "models": OrderedDict()}
    return state


def _thread_api() -> Any:
    """This thread's DuckDB connection: opening one costs more than scoring a small registry,
    so training and every scan on the thread share it."""
    return _state()["api"]


def _linker(table: Any, model: dict[str, Any]) -> Any:
    """Splink's Linker for one of our models. Splink's settings validation only logs
    warnings about columns the settings name; ours are fixed and tested, so it is skipped."""
    from splink import Linker

    return Linker(table, model, log_level=None, validate_settings=False)


def _any_alias(*sides: Sequence[dict[str, Any]]) -> bool:
    return any(record.get("aliases") for side in sides for record in side)


def _blocking_for(model: dict[str, Any], *, aliases: bool) -> dict[str, Any]:
    """The model as it scans records of which ``aliases`` says whether any has an alias.
    Without aliases every record's known names are its full name alone, so pairing records
    that share a known name (exploding the arrays) pairs exactly those with the same full name:
    the plain equality does it for less."""
    if aliases:
        return model
    rules = [
        "l.full_name = r.full_name"
        if isinstance(rule, dict) and rule.get("arrays_to_explode") == ["names"]
        else rule
        for rule in model["blocking_rules_to_generate_predictions"]
    ]
    return {**model, "blocking_rules_to_generate_predictions": rules}


def _model_key(model: dict[str, Any], *, aliases: bool) -> str:
    text = json.dumps(_splink_model(model), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest() + (":aliases" if aliases else ":plain")


def _new_entry(api: Any) -> _Ready:
    n = next(_names)
    views = {side: f"tandem_{side}_{n}" for side in ("all", "left", "right")}
    for view in views.values():
        api._con.register(view, _table([]))
    frames = {side: api.register(view) for side, view in views.items()}
    return _Ready(None, frames, views)


def _keep(api: Any, key: str, entry: _Ready) -> None:
    ready: OrderedDict[str, _Ready] = _state()["models"]
    old = ready.pop(key, None)
    if old is not None and old is not entry:
        _forget(api, old)
    ready[key] = entry
    while len(ready) > WARM_MODELS:
        _, evicted = ready.popitem(last=False)
        _forget(api, evicted)


def _forget(api: Any, entry: _Ready) -> None:
    for view in entry.views.values():
        api._con.unregister(view)


def _ready(model: dict[str, Any], *, aliases: bool) -> tuple[Any, _Ready]:
    api, ready = _thread_api(), _state()["models"]
    key = _model_key(model, aliases=aliases)
    entry = ready.get(key)
    if entry is None:
        entry = _new_entry(api)
        entry.linker = _linker(entry.frames["all"], _blocking_for(model, aliases=aliases))
        _keep(api, key, entry)
    ready.move_to_end(key)
    return api, entry


def predict(
    records: Sequence[dict[str, Any]],
    model: dict[str, Any],
    *,
    threshold: float = 0.0,
    db_api: Any = None,
) -> list[ScoredPair]:
    """Every blocked pair within ``records`` scoring at least ``threshold``."""
    if len(records) < 2:
        return []
    _quiet()
    aliases = _any_alias(records)
    if db_api is None:
        model = for_dialect(model, "duckdb")
        api, ready = _ready(_splink_model(model), aliases=aliases)
        api._con.register(ready.views["all"], _table(records))
        ready.linker.table_management.invalidate_cache()
        linker = ready.linker
    else:
        model = for_dialect(model, _dialect(db_api))
        splink_model = _blocking_for(_splink_model(model), aliases=aliases)
        linker = _linker(db_api.register(_table(records)), splink_model)
    frame = linker.inference.predict(
        threshold_match_probability=threshold or None, warning_mode="never"
    )
    return _scored(_rows(frame), model)


def score(
    new: Sequence[dict[str, Any]],
    existing: Sequence[dict[str, Any]],
    model: dict[str, Any],
    *,
    threshold: float = 0.0,
    db_api: Any = None,
    every_pair: bool = False,
) -> list[ScoredPair]:
    """Pairs between ``new`` records and ``existing`` ones (never within either side);
    ``left`` is always the new record's id. ``every_pair`` scores all of them (the caller
    already narrowed ``existing`` down), instead of only the blocked ones."""
    if not new or not existing:
        return []
    _quiet()
    aliases = _any_alias(new, existing)
    if db_api is None:
        model = for_dialect(model, "duckdb")
        api, ready = _ready(_splink_model(model), aliases=aliases)
        api._con.register(ready.views["left"], _table(new))
        api._con.register(ready.views["right"], _table(existing))
        ready.linker.table_management.invalidate_cache()
        linker, left, right = ready.linker, ready.frames["left"], ready.frames["right"]
    else:
        model = for_dialect(model, _dialect(db_api))
        left = db_api.register(_table(new))
        right = db_api.register(_table(existing))
        linker = _linker(right, _blocking_for(_splink_model(model), aliases=aliases))
    frame = linker.inference.predict_between(
        left,
        right,
        threshold_match_probability=threshold or None,
        warning_mode="never",
        blocking_rules_to_generate_predictions=["1 = 1"] if every_pair else None,
    )
    new_ids = {r["unique_id"] for r in new}
    pairs = _scored(_rows(frame), model)
    for pair in pairs:
        if pair.left not in new_ids:
            pair.left, pair.right = pair.right, pair.left
    return pairs
