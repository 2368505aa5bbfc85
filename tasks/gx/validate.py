"""Great Expectations validation of a facility window's readings, with Data Docs under ``<home>/gx/``.

The only module that imports ``great_expectations``, and only inside functions (the import costs
several seconds). GX validates the window's **tag profile** (``thermaliq.quality.tag_profile``: one row
per tag with exact counts, computed in numpy from every reading) against one suite for every
facility, ``expectations/thermaliq_readings.json``: readings present, not null, configured tags
only, timestamps unique per tag, monotonic counters (at most 1 % negative steps per counter tag),
reading frequency (at most 1 % of a tag's spacings longer than ``thresholds.offline_after``),
physical limits (``expectations/thermaliq_physical_limits.json``, converted to each tag's unit)
and configured ranges (compared column with column). A failed expectation is reported per
offending tag with the exact number of offending readings.

The suite, validation definition and checkpoint have stable names and are stored once per home:
the stored ones are looked up and reused while their content is unchanged (also across
processes), and cached per process. Runs store their validation result (Data Docs show every
validation under its run name) but do not rebuild the Data Docs: ``tasks/gx/docs.py`` does,
once per flow run (``tasks/report.py``).

Locking: a GX file context is shared by every process using the home and is not thread-safe, so
every GX call runs under ``gx_lock(gx_dir)`` (a thread lock per home plus the file lock
``<home>/gx/.thermaliq-gx.lock``); the profile is computed outside it.
"""
from __future__ import annotations

import contextlib
import json
import re
import threading
from pathlib import Path

import pandas as pd
from filelock import FileLock

from thermaliq.config import Facility
from thermaliq.quality.window_profile import facility_profile as profile
from thermaliq.quality.window_profile import load_json

READINGS_SUITE_FILE = "thermaliq_readings.json"
SUITE_NAME = "thermaliq_readings"        # also the validation definition's and checkpoint's name
DATASOURCE = "thermaliq"
ASSET = "tag_profiles"
BATCH_DEFINITION = "whole_dataframe"
LOCK_FILE = ".thermaliq-gx.lock"
# SUMMARY, plus the tag of each failing profile row (a profile has one row per tag: the
# partial lists are complete up to 10 000 tags)
RESULT_FORMAT = {"result_format": "SUMMARY",
                 "unexpected_index_column_names": ["facility_id", "window", "tag"],
                 "partial_unexpected_count": 100_000}
FLEET = "fleet"          # the "facility" of a run name that validates several facilities at once
_RUN_NAME = re.compile(r"^(?P<facility>.+)-\d{4}-\d{2}-\d{2}-\d{4}-\d{2}-\d{2}-[0-9a-zA-Z]+$")

_CONTEXTS: dict[Path, object] = {}
_CHECKPOINTS: dict[Path, tuple[str, object]] = {}
_CONTEXT_LOCK = threading.Lock()
_HOME_LOCKS: dict[Path, threading.Lock] = {}


def run_name(facility_id: str, first, last, run_id: str) -> str:
    """Name of a facility-window's validation run as shown in the Data Docs."""
    return f"{facility_id}-{first}-{last}-{run_id[:8]}"


def facility_of_run_name(name: str) -> str:
    """The facility id of a :func:`run_name` (the whole name when it is not one)."""
    match = _RUN_NAME.match(name)
    return match.group("facility") if match else name


@contextlib.contextmanager
def gx_lock(gx_dir: Path):
    """One GX operation at a time per home: a thread lock here plus the home's file lock."""
    root = Path(gx_dir).resolve()
    with _CONTEXT_LOCK:
        lock = _HOME_LOCKS.setdefault(root, threading.Lock())
    root.mkdir(parents=True, exist_ok=True)
    with lock, FileLock(str(root / LOCK_FILE)):
        yield


def gx_context(gx_dir: Path):
    """The file GX context rooted at ``gx_dir``, created on first use and cached per directory."""
    root = Path(gx_dir).resolve()
    with _CONTEXT_LOCK:
        context = _CONTEXTS.get(root)
        if context is None:
            import great_expectations as gx

            root.mkdir(parents=True, exist_ok=True)
            context = gx.get_context(mode="file", context_root_dir=str(root))
            if context.variables.progress_bars != {"globally": False} or \
                    context.variables.analytics_enabled is not False:
                context.variables.progress_bars = {"globally": False}
                context.variables.analytics_enabled = False
                context.variables.save()
            _CONTEXTS[root] = context
    return context


def warm_up(gx_dir: Path) -> None:
    """Import Great Expectations and open the home's context and checkpoint ahead of the first
    validation (several seconds); flows call it in a thread while ingest jobs run in worker
    processes, so the wait overlaps. A failure here is left to the validation to report."""
    root = Path(gx_dir).resolve()
    with gx_lock(root):
        _checkpoint(gx_context(root), root)


def _suite():
    import great_expectations as gx

    spec = load_json(READINGS_SUITE_FILE)
    suite = gx.ExpectationSuite(name=SUITE_NAME, expectations=spec["expectations"],
                                meta={**spec["meta"], "source": f"expectations/{READINGS_SUITE_FILE}"})
    if len(suite.expectations) != len(spec["expectations"]):
        refused = len(spec["expectations"]) - len(suite.expectations)
        raise ValueError(f"suite {SUITE_NAME}: {refused} expectation(s) were refused by Great "
                         f"Expectations; check expectations/{READINGS_SUITE_FILE}")
    return suite


def _signature(suite) -> str:
    """The content of a suite without GX-assigned ids (to detect a real change)."""
    configs = []
    for exp in suite.expectations:
        cfg = exp.configuration.to_json_dict()
        cfg.pop("id", None)
        configs.append(cfg)
    return json.dumps([configs, suite.meta], sort_keys=True, default=str)


def _stored(collection, name: str):
    """``collection.get(name)``, or ``None`` when nothing of that name is stored."""
    from great_expectations.exceptions import DataContextError

    try:
        return collection.get(name)
    except DataContextError:
        return None


def _batch_definition(context):
    try:
        source = context.data_sources.get(DATASOURCE)
    except KeyError:
        source = context.data_sources.add_pandas(DATASOURCE)
    try:
        asset = source.get_asset(ASSET)
    except LookupError:
        asset = source.add_dataframe_asset(ASSET)
    try:
        return asset.get_batch_definition(BATCH_DEFINITION)
    except KeyError:
        return asset.add_batch_definition_whole_dataframe(BATCH_DEFINITION)


def _checkpoint_matches(checkpoint, suite, batch) -> bool:
    if checkpoint is None or checkpoint.actions or not isinstance(checkpoint.result_format, dict):
        return False
    if any(checkpoint.result_format.get(k) != v for k, v in RESULT_FORMAT.items()):
        return False
    if len(checkpoint.validation_definitions) != 1:
        return False
    validation = checkpoint.validation_definitions[0]
    return validation.name == SUITE_NAME and validation.suite.id == suite.id and \
        validation.data.id == batch.id


def _checkpoint(context, root: Path):
    """The home's checkpoint: stored once, reused while the suite's content is unchanged.

    Looks the stored suite and checkpoint up first and writes only what differs, so runs (and
    concurrent processes) with the same suite never rewrite them; cached per process.
    """
    import great_expectations as gx

    suite = _suite()
    signature = _signature(suite)
    cached = _CHECKPOINTS.get(root)
    if cached is not None and cached[0] == signature:
        return cached[1]
    stored = _stored(context.suites, SUITE_NAME)
    suite = stored if stored is not None and _signature(stored) == signature \
        else context.suites.add_or_update(suite)
    batch = _batch_definition(context)
    checkpoint = _stored(context.checkpoints, SUITE_NAME)
    if not _checkpoint_matches(checkpoint, suite, batch):
        validation = context.validation_definitions.add_or_update(
            gx.ValidationDefinition(name=SUITE_NAME, data=batch, suite=suite))
        checkpoint = context.checkpoints.add_or_update(gx.Checkpoint(
            name=SUITE_NAME, validation_definitions=[validation], actions=[],
            result_format=dict(RESULT_FORMAT)))    # a copy: GX adds its defaults to it
    _CHECKPOINTS[root] = (signature, checkpoint)
    return checkpoint


def _release_batches(context) -> None:
    """Drop the validated frame from the pandas execution engine's caches."""
    engine = context.data_sources.get(DATASOURCE).get_execution_engine()
    engine.batch_manager.reset_batch_cache()
    engine.batch_manager.batch_data_cache.clear()


def validate_readings(readings: pd.DataFrame, facility: Facility, gx_dir: Path,
                      run_name: str) -> dict:
    """Validate one facility window's readings with Great Expectations (on their tag profile).

    Parameters
    ----------
    readings : pandas.DataFrame
        Readings of a facility window (e.g. one local day): ``tag, ts`` (UTC), ``value``
        [configured unit].
    facility : thermaliq.config.Facility
        Configured tags, units, ranges, counters and ``offline_after``.
    gx_dir : pathlib.Path
        Root of the GX file context, ``<home>/gx``.
    run_name : str
        Name of this validation run as shown in the Data Docs (see :func:`run_name`).

    Returns
    -------
    dict
        ``success`` (bool), ``results`` (list of ``{expectation, column, tag, check, success,
        unexpected_count, unexpected_percent, observed_value, exception}``: one row per passed
        expectation, one per offending tag of a failed one with the exact number of offending
        readings of that tag) and ``data_docs_path`` (the Data Docs ``index.html``, which
        :func:`build_data_docs` brings up to date once per flow run).
    """
    frame = profile(readings, facility)
    return validate_profiles([(facility, frame)], gx_dir, run_name)[(facility.facility_id, "")]


def validate_profiles(profiles: list[tuple[Facility, pd.DataFrame]], gx_dir: Path,
                      run_name: str) -> dict[tuple[str, str], dict]:
    """Validate the profiles (:func:`profile`) of several facility windows in ONE GX run.

    GX's cost is per expectation and run, not per row (about 0.3 s a run), so a fleet's night,
    or several windows of a backfill, is one run instead of one per facility window. Each facility
    window's outcome is its own: an expectation fails for it only on its own rows.

    Returns
    -------
    dict
        Per ``(facility_id, window)`` of the profiles, what :func:`validate_readings` returns.
    """
    from great_expectations.core.run_identifier import RunIdentifier

    if not profiles:
        return {}
    root = Path(gx_dir).resolve()
    frame = pd.concat([p for _, p in profiles], ignore_index=True)
    with gx_lock(root):     # also the context: its first creation writes great_expectations.yml
        context = gx_context(root)
        checkpoint = _checkpoint(context, root)
        try:
            outcome = checkpoint.run(batch_parameters={"dataframe": frame},
                                     run_id=RunIdentifier(run_name=run_name))
        finally:
            _release_batches(context)
    docs = str(site_dir(root) / "index.html")
    indexed = {_key(p): p.set_index("tag", drop=False) for _, p in profiles}
    if len(indexed) != len(profiles):
        raise ValueError("two profiles of the same facility window in one validation")
    out = {key: {"success": True, "results": [], "data_docs_path": docs} for key in indexed}
    for v in outcome.run_results.values():
        for r in v.results:
            for key, rows in _result_rows(r, indexed).items():
                out[key]["results"].extend(rows)
                out[key]["success"] &= all(row["success"] for row in rows)
    return out


def _key(profile: pd.DataFrame) -> tuple[str, str]:
    """``(facility_id, window)`` of a profile (the same on each of its rows)."""
    return (str(profile["facility_id"].iloc[0]), str(profile["window"].iloc[0])) if len(profile) \
        else ("", "")


def _result_rows(result, profiles_by_tag: dict[tuple[str, str], pd.DataFrame]) -> dict[tuple[str, str], list[dict]]:
    """Rows of one expectation's result per facility window: one if it passed for it (no
    offending row of its own), else one per offending tag with its exact count of readings
    (``meta.count_column``), or one window-level row without a tag."""
    cfg = result.expectation_config
    kwargs, meta = cfg.kwargs, cfg.meta or {}
    column = kwargs.get("column") or ",".join(
        c for c in (kwargs.get("column_A"), kwargs.get("column_B")) if c) or None
    res = result.result or {}
    exception = None
    if result.exception_info and result.exception_info.get("raised_exception"):
        exception = result.exception_info.get("exception_message")
    base = {"expectation": cfg.type, "column": column, "tag": None, "check": meta.get("check"),
            "success": True, "unexpected_count": 0, "unexpected_percent": 0.0,
            "observed_value": res.get("observed_value"), "exception": exception}
    if exception is not None:       # GX could not evaluate it: a failure of every facility window
        return {key: [{**base, "success": False}] for key in profiles_by_tag}
    if result.success:
        return {key: [dict(base)] for key in profiles_by_tag}
    offending = [((row["facility_id"], row["window"]), row["tag"])
                 for row in res.get("partial_unexpected_index_list") or []]
    if len(offending) != int(res.get("unexpected_count") or 0):
        raise ValueError(f"{cfg.type} on {column}: Great Expectations returned "
                         f"{len(offending)} of {res.get('unexpected_count')} offending rows")
    out: dict[tuple[str, str], list[dict]] = {key: [] for key in profiles_by_tag}
    for key, tag in offending:
        profile_by_tag = profiles_by_tag[key]
        if not meta.get("count_column"):                 # a window-level check
            if not out[key]:
                out[key].append({**base, "success": False})
            continue
        row = profile_by_tag.loc[[tag]] if tag is not None and not pd.isna(tag) else \
            profile_by_tag[profile_by_tag["tag"].isna()]
        count = int(row[meta["count_column"]].iloc[0])
        of = int(row[meta.get("of_column", "n_readings")].iloc[0])
        out[key].append({**base, "success": False, "tag": None if pd.isna(tag) else tag,
                         "unexpected_count": count,
                         "unexpected_percent": 100.0 * count / of if of else 0.0})
    return {key: rows or [dict(base)] for key, rows in out.items()}


def site_dir(root: Path) -> Path:
    """Folder of the Data Docs site of the GX context at ``root``."""
    return root / "uncommitted" / "data_docs" / "local_site"
