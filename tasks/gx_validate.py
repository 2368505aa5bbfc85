"""Great Expectations validation of a facility's readings, with Data Docs under ``<home>/gx/``.

The only module that imports ``great_expectations``, and only inside functions (the import costs
several seconds). The suites are versioned JSON in ``expectations/``:

* ``thermaliq_readings.json``: schema, not-null, configured tags only, timestamps unique per tag,
  monotonic counters (at most 1 % negative steps: resets and rollovers are excepted), reading
  frequency (at most 1 % of spacings longer than ``thresholds.offline_after``);
* ``thermaliq_physical_limits.json``: physically possible values per kind of quantity in SI,
  copied per tag of that kind, converted to the tag's unit and applied to the tag's own
  column ``value:<tag>``; the facility's configured ``range`` of each tag is added the same way.

The GX context is a file context rooted at ``gx_dir`` (``<home>/gx``), cached per directory; its
progress bars are switched off through ``context.variables.progress_bars`` (``TQDM_DISABLE`` has no
effect on GX). Suites, validation definitions and checkpoints are ``add_or_update``-ed under stable
names per facility so their ids do not churn from run to run.
"""
from __future__ import annotations

import copy
import json
import threading
from pathlib import Path
from urllib.parse import unquote, urlparse

import numpy as np
import pandas as pd

from thermaliq import units
from thermaliq.config import Facility
from thermaliq.errors import UnitError

EXPECTATIONS_DIR = Path(__file__).resolve().parents[1] / "expectations"
READINGS_SUITE_FILE = "thermaliq_readings.json"
LIMITS_SUITE_FILE = "thermaliq_physical_limits.json"
DATASOURCE = "thermaliq"
BATCH_DEFINITION = "whole_dataframe"

_CONTEXTS: dict[Path, object] = {}
_CHECKPOINTS: dict[tuple[Path, str], tuple[str, object]] = {}
_CONTEXT_LOCK = threading.Lock()
_RUN_LOCKS: dict[Path, threading.Lock] = {}


def load_suite_file(name: str) -> dict:
    """One suite of ``expectations/`` as a dict (GX 1.x suite JSON)."""
    path = EXPECTATIONS_DIR / name
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: cannot read the expectation suite: {exc}") from exc


def tag_column(tag: str) -> str:
    """Name of the derived column holding one tag's values (empty on other tags' rows)."""
    return f"value:{tag}"


def _bound(value, si_unit: str, unit: str):
    if value is None:
        return None
    return float(units.convert(float(value), si_unit, unit))


def suite_expectations(facility: Facility) -> list[dict]:
    """Every expectation of a facility's readings suite, as GX expectation dicts.

    Parameters
    ----------
    facility : thermaliq.config.Facility
        Its tags, units and configured ranges select and convert the per-tag expectations.

    Returns
    -------
    list of dict
        ``{"type", "kwargs", "meta"}``: the static ones of ``thermaliq_readings.json``, then per
        tag its physical limits (in the tag's unit) and its configured range.
    """
    out = copy.deepcopy(load_suite_file(READINGS_SUITE_FILE)["expectations"])
    limits = {e["meta"]["kind"]: e for e in load_suite_file(LIMITS_SUITE_FILE)["expectations"]}
    for tag, spec in facility.tag_specs().items():
        try:
            kind = units.kind_of(spec.unit)
        except UnitError:
            kind = None
        template = limits.get(kind)
        if template is not None:
            si = template["meta"]["si_unit"]
            kwargs = {"column": tag_column(tag),
                      "min_value": _bound(template["kwargs"].get("min_value"), si, spec.unit),
                      "max_value": _bound(template["kwargs"].get("max_value"), si, spec.unit)}
            out.append({"type": template["type"], "kwargs": kwargs,
                        "meta": {"tag": tag,
                                 "check": f"physical limits of a {kind} [{spec.unit}]"}})
        if spec.range is not None:
            out.append({"type": "expect_column_values_to_be_between",
                        "kwargs": {"column": tag_column(tag),
                                   "min_value": float(spec.range[0]),
                                   "max_value": float(spec.range[1])},
                        "meta": {"tag": tag, "check": f"configured range [{spec.unit}]"}})
    return out


def suite_parameters(facility: Facility) -> dict:
    """Values of the ``$PARAMETER`` kwargs of ``thermaliq_readings.json`` for a facility."""
    return {"configured_tags": sorted(facility.tag_specs()),
            "max_spacing_s": pd.Timedelta(facility.thresholds.offline_after).total_seconds()}


def readings_frame(readings: pd.DataFrame, facility: Facility) -> pd.DataFrame:
    """The frame GX validates: ``tag, ts, value`` plus derived columns.

    Parameters
    ----------
    readings : pandas.DataFrame
        Readings with ``tag, ts`` (UTC) and ``value`` [configured unit].
    facility : thermaliq.config.Facility
        Tells which tags are counters.

    Returns
    -------
    pandas.DataFrame
        Sorted by tag and ts; ``counter_step`` = difference to the previous reading of the same
        counter tag [tag unit] (NaN for rate tags), ``spacing_s`` = time since the previous reading
        of the same tag [s] (NaN for a tag's first reading), and per configured tag
        ``value:<tag>`` = the value on that tag's rows, NaN elsewhere [tag unit].

    Notes
    -----
    Per-tag columns instead of GX row conditions: a row condition is a pandas query per metric
    (about 20 ms each, five metrics per expectation), which made the per-tag expectations the
    bulk of a run; GX skips the NaN rows of a column, so percentages stay per tag.
    """
    missing = [c for c in ("tag", "ts", "value") if c not in readings.columns]
    if missing:
        raise ValueError(f"readings lack column(s) {missing}")
    # One factorisation of the tag names (sorted), then integer work only: sorting and comparing
    # object strings once per tag made this frame a second of every 900k-reading window.
    codes, names = pd.factorize(readings["tag"].astype(object), sort=True, use_na_sentinel=True)
    ts = pd.to_datetime(readings["ts"], utc=True)
    order = np.lexsort((ts.array.asi8, np.where(codes < 0, len(names), codes)))  # no tag: last
    codes = codes[order]
    df = pd.DataFrame({"tag": pd.Series(readings["tag"].astype(object).to_numpy()[order], dtype=object),
                       "ts": ts.iloc[order].reset_index(drop=True),
                       "value": readings["value"].to_numpy()[order]})
    same = np.r_[False, codes[1:] == codes[:-1]] & (codes >= 0)
    spacing = df["ts"].diff().dt.total_seconds().to_numpy()
    df["spacing_s"] = np.where(same, spacing, np.nan)
    counters = [t for t, s in facility.tag_specs().items() if s.kind == "counter"]
    is_counter = np.isin(codes, names.get_indexer(counters))
    df["counter_step"] = np.where(same & is_counter, df["value"].diff().to_numpy(), np.nan)
    values = df["value"].to_numpy(dtype="float64")
    code_of = dict(zip(names, range(len(names))))
    for t in facility.tag_specs():      # column by column: no second copy of the whole frame
        df[tag_column(t)] = np.where(codes == code_of.get(t, -2), values, np.nan)
    return df


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


def _dataframe_asset(context, name: str):
    source = context.data_sources.add_or_update_pandas(DATASOURCE)
    try:
        asset = source.get_asset(name)
    except LookupError:
        asset = source.add_dataframe_asset(name)
    try:
        return asset.get_batch_definition(BATCH_DEFINITION)
    except KeyError:
        return asset.add_batch_definition_whole_dataframe(BATCH_DEFINITION)


def _signature(suite) -> str:
    """The content of a suite without GX-assigned ids (to detect a real change)."""
    configs = []
    for exp in suite.expectations:
        cfg = exp.configuration.to_json_dict()
        cfg.pop("id", None)
        configs.append(cfg)
    return json.dumps([configs, suite.meta], sort_keys=True, default=str)


def _stored_suite(context, suite):
    """The stored suite when its content is unchanged (expectation ids stay), else the update."""
    from great_expectations.exceptions import DataContextError

    try:
        existing = context.suites.get(suite.name)
    except DataContextError:
        existing = None
    if existing is not None and _signature(existing) == _signature(suite):
        return existing
    return context.suites.add_or_update(suite)


def _checkpoint(context, root: Path, facility: Facility):
    """Suite, validation definition and checkpoint of a facility (stable names, add_or_update).

    Cached per context root and facility while the suite's content is unchanged: storing them
    again costs seconds of GX bookkeeping per run.
    """
    import great_expectations as gx
    from great_expectations.checkpoint import UpdateDataDocsAction

    name = f"thermaliq_readings_{facility.facility_id}"
    expectations = suite_expectations(facility)
    suite = gx.ExpectationSuite(name=name, expectations=expectations,
                                meta={"facility_id": facility.facility_id,
                                      "source": f"expectations/{READINGS_SUITE_FILE} + "
                                                f"expectations/{LIMITS_SUITE_FILE}"})
    if len(suite.expectations) != len(expectations):
        refused = len(expectations) - len(suite.expectations)
        raise ValueError(f"suite {name}: {refused} expectation(s) were refused by Great "
                         "Expectations; check expectations/*.json")
    signature = _signature(suite)
    cached = _CHECKPOINTS.get((root, facility.facility_id))
    if cached is not None and cached[0] == signature:
        return cached[1]
    suite = _stored_suite(context, suite)
    batch = _dataframe_asset(context, f"readings_{facility.facility_id}")
    validation = context.validation_definitions.add_or_update(
        gx.ValidationDefinition(name=name, data=batch, suite=suite))
    checkpoint = context.checkpoints.add_or_update(gx.Checkpoint(
        name=name, validation_definitions=[validation],
        actions=[UpdateDataDocsAction(name="update_data_docs")], result_format="SUMMARY"))
    _CHECKPOINTS[(root, facility.facility_id)] = (signature, checkpoint)
    return checkpoint


def _result_row(result) -> dict:
    cfg = result.expectation_config
    kwargs, meta = cfg.kwargs, cfg.meta or {}
    column = kwargs.get("column") or ",".join(kwargs.get("column_list") or []) or None
    res = result.result or {}
    return {"expectation": cfg.type, "column": column, "tag": meta.get("tag"),
            "check": meta.get("check"), "success": bool(result.success),
            "unexpected_count": int(res.get("unexpected_count") or 0),
            "unexpected_percent": float(res.get("unexpected_percent") or 0.0),
            "observed_value": res.get("observed_value"),
            "exception": (result.exception_info or {}).get("exception_message")
            if result.exception_info and result.exception_info.get("raised_exception") else None}


def _docs_index(context) -> str | None:
    for site in context.get_docs_sites_urls():
        url = site.get("site_url")
        if url and url.startswith("file://"):
            return unquote(urlparse(url).path)
    return None


def _release_batches(context) -> None:
    """Drop the validated frame from the pandas execution engine's caches.

    GX keeps the last batch of every asset (one per facility) in memory after a run: a
    fleet of 100 facilities kept 100 frames, a year's backfill one 31-day frame too many.
    """
    engine = context.data_sources.get(DATASOURCE).get_execution_engine()
    engine.batch_manager.reset_batch_cache()
    engine.batch_manager.batch_data_cache.clear()


def validate_readings(readings: pd.DataFrame, facility: Facility, gx_dir: Path,
                      run_name: str) -> dict:
    """Validate a facility's readings with Great Expectations and update the Data Docs.

    Parameters
    ----------
    readings : pandas.DataFrame
        Readings of a facility window (e.g. one local day): ``tag, ts`` (UTC), ``value``
        [configured unit].
    facility : thermaliq.config.Facility
        The configuration the suite is built from.
    gx_dir : pathlib.Path
        Root of the GX file context, ``<home>/gx``.
    run_name : str
        Name of this validation run as shown in the Data Docs.

    Returns
    -------
    dict
        ``success`` (bool), ``results`` (list of ``{expectation, column, tag, check, success,
        unexpected_count, unexpected_percent, observed_value, exception}``) and
        ``data_docs_path`` (the Data Docs ``index.html``).
    """
    from great_expectations.core.run_identifier import RunIdentifier

    root = Path(gx_dir).resolve()
    frame = readings_frame(readings, facility)
    context = gx_context(root)
    with _CONTEXT_LOCK:
        run_lock = _RUN_LOCKS.setdefault(root, threading.Lock())
    with run_lock:     # a GX context is not thread-safe: one validation at a time per context
        checkpoint = _checkpoint(context, root, facility)
        try:
            outcome = checkpoint.run(batch_parameters={"dataframe": frame},
                                     expectation_parameters=suite_parameters(facility),
                                     run_id=RunIdentifier(run_name=run_name))
        finally:
            _release_batches(context)
    rows = [_result_row(r) for v in outcome.run_results.values() for r in v.results]
    return {"success": bool(outcome.success), "results": rows,
            "data_docs_path": _docs_index(context)}
