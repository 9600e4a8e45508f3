"""Model page: which model scores the news, how good it is, and whether its output drifts.

0. What is running and what is being built: a warning while the quick first model scores,
   the full model's build phase, progress and ETA (:mod:`dashboard.build_panel`).
1. The production model version, its held-out evaluation (accuracy, macro-F1, per-class
   precision / recall / F1), confusion matrix and calibration (ECE, temperature, reliability
   diagram), from ``model_versions.metrics``.
2. Label distribution per day under the production model: a shift here with no news to explain
   it is drift (new sources, new vocabulary), and the alert baselines move with it.
3. The shadow comparison with a candidate version, if one has scored articles: how many
   labels would change (``tonewatch rescore --against`` also replays the alerts).
4. Every known model version.
"""

from __future__ import annotations

import json

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import queries
from dashboard.build_panel import build_panel
from dashboard.ui import (
    TIME_FORMAT, code_span, data_period, db_path, display_tz, period_note, require_data, to_tz,
)
from pipeline.config import load_settings
from pipeline.domain import LABELS
from pipeline.errors import StorageError

DRIFT_DAYS = 90
_LABEL_COLORS = alt.Scale(domain=list(LABELS), range=["#d62728", "#9e9e9e", "#2ca02c"])


def _metrics(raw: object) -> dict:
    """Parse ``model_versions.metrics`` (JSON text or NULL) into a dict ({} when absent)."""
    if not isinstance(raw, str):
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def production(path: str, versions: pd.DataFrame) -> str | None:
    """The production version's metrics and confusion matrix; return its version."""
    version = queries.production_version(path)
    if version is None:
        st.warning("No article has been scored yet: run `tonewatch run` to score them.")
        return None
    row = versions[versions["model_version"] == version]
    stage = row["stage"].iloc[0] if not row.empty else None
    st.subheader(f"Production model {code_span(version)}")
    if stage != "production":
        st.caption("No version is marked production; this is the most recently scored one.")
    metrics = _metrics(row["metrics"].iloc[0]) if not row.empty else {}
    if not metrics:
        st.info("No evaluation recorded for this version (see `tonewatch evaluate`).")
        return version
    cols = st.columns(4)
    cols[0].metric("Accuracy", _pct(metrics.get("accuracy")))
    cols[1].metric("Macro-F1", _pct(metrics.get("macro_f1")))
    cols[2].metric("Majority baseline", _pct(metrics.get("majority_baseline_accuracy")),
                   help="Accuracy of always predicting the most frequent class.")
    cols[3].metric("Examples", f"{metrics['n']:,}" if "n" in metrics else "n/a")
    left, right = st.columns(2)
    per_class = metrics.get("per_class") or {}
    if per_class:
        left.dataframe(pd.DataFrame(per_class).T.reindex(columns=[
            "precision", "recall", "f1", "support"]), width="stretch",
            column_config={c: st.column_config.NumberColumn(format="%.3f")
                           for c in ("precision", "recall", "f1")})
    confusion = metrics.get("confusion")
    if confusion:
        cells = pd.DataFrame([
            {"true": t, "predicted": p, "n": int(n)}
            for t, row_ in zip(LABELS, confusion, strict=False)
            for p, n in zip(LABELS, row_, strict=False)])
        base = alt.Chart(cells).encode(
            x=alt.X("predicted:N", sort=list(LABELS), title="predicted"),
            y=alt.Y("true:N", sort=list(LABELS), title="true"))
        chart = base.mark_rect().encode(
            color=alt.Color("n:Q", scale=alt.Scale(scheme="blues"), legend=None),
            tooltip=["true:N", "predicted:N", "n:Q"],
        ) + base.mark_text(fontSize=14).encode(text="n:Q")
        right.altair_chart(chart.properties(title="Confusion matrix", height=220),
                           width="stretch")
    calibration(metrics.get("calibration"))
    return version


def calibration(result: dict | None) -> None:
    """ECE, temperature and reliability diagram of the production model's probabilities."""
    from pipeline.training.reliability import reliability_chart

    st.markdown("**Calibration**: when the model says it is p sure, is it right a share p "
                "of the time?")
    if not result or not result.get("bins"):
        st.caption("This version records no calibration: its probabilities are the plain "
                   "softmax. Versions trained since issue 19 are calibrated by temperature "
                   "scaling; `tonewatch evaluate` measures any version's ECE.")
        return
    left, right = st.columns([1, 2])
    left.metric("Expected calibration error", _pct(result.get("ece")),
                help="Mean gap between confidence and accuracy over 15 confidence bins, "
                     "weighted by rows (Guo et al. 2017); 0 is perfect.")
    if "ece_uncalibrated" in result:
        left.metric("Without calibration", _pct(result["ece_uncalibrated"]))
    if "temperature" in result:
        left.caption(f"Temperature T = {result['temperature']:.3f} (logits / T before the "
                     "softmax), fitted on the validation split.")
    right.altair_chart(reliability_chart({"validation split": result},
                                         title="Reliability (diagonal = calibrated)"),
                       width="stretch")


def _pct(value: object) -> str:
    return f"{value:.1%}" if isinstance(value, int | float) else "n/a"


def drift(path: str) -> None:
    """Daily label shares of the production model."""
    st.subheader("Label distribution by day")
    period = data_period(path, DRIFT_DAYS)
    period_note(period)
    shares = queries.label_drift(path, period.start, period.end)
    if shares.empty:
        st.caption("No scored articles in the period.")
        return
    data = shares.assign(day=shares["day"].dt.tz_localize(None))  # UTC days, UTC scale
    chart = alt.Chart(data).mark_area().encode(
        x=alt.X("day:T", title="day (UTC)", scale=alt.Scale(type="utc")),
        y=alt.Y("share:Q", stack="normalize", title="share of scored articles",
                axis=alt.Axis(format=".0%")),
        color=alt.Color("label:N", scale=_LABEL_COLORS, sort=list(LABELS)),
        tooltip=[alt.Tooltip("day:T", title="day (UTC)", format="%Y-%m-%d"), "label:N",
                 alt.Tooltip("n:Q", title="articles"),
                 alt.Tooltip("share:Q", title="share", format=".1%")],
    )
    st.altair_chart(chart.properties(height=240), width="stretch")
    st.caption(f"{DRIFT_DAYS} days up to {period.last_day:%Y-%m-%d}, by publication day (UTC).")


def shadow(path: str, versions: pd.DataFrame, baseline: str) -> None:
    """Label transitions between production and a candidate that has scored articles."""
    st.subheader("Shadow comparison")
    candidates = versions[(versions["stage"] == "candidate") & (versions["n_scores"] > 0)
                          & (versions["model_version"] != baseline)]
    if candidates.empty:
        st.caption("No candidate version has scored articles "
                   "(`tonewatch rescore --model VERSION` scores them in shadow).")
        return
    candidate = st.selectbox("Candidate", list(candidates["model_version"]), key="candidate")
    transitions, n = queries.shadow_transitions(path, baseline, candidate)
    if n == 0:
        st.caption("The two versions have no scored article in common.")
        return
    changed = sum(v for a, row in transitions.items() for b, v in row.items() if a != b)
    neg_base = sum(transitions["negative"].values()) / n
    neg_cand = sum(row["negative"] for row in transitions.values()) / n
    cols = st.columns(4)
    cols[0].metric("Articles compared", f"{n:,}")
    cols[1].metric("Labels changed", f"{changed:,}", f"{changed / n:.1%}", delta_color="off")
    cols[2].metric("Negative share (production)", f"{neg_base:.1%}")
    cols[3].metric("Negative share (candidate)", f"{neg_cand:.1%}",
                   f"{(neg_cand - neg_base) * 100:+.1f} pp", delta_color="inverse")
    table = pd.DataFrame(transitions).T.reindex(index=list(LABELS), columns=list(LABELS))
    table.index.name = "production \\ candidate"
    st.dataframe(table, width="stretch")
    st.caption("Rows: production label; columns: candidate label; counts of articles. "
               "`tonewatch rescore --model CANDIDATE --against PRODUCTION` also replays the "
               "alert rules with both versions.")


def version_table(versions: pd.DataFrame, tz: str) -> None:
    """Every model version with its stage and the number of articles it scored."""
    st.subheader("Model versions")
    st.dataframe(
        pd.DataFrame({
            "model_version": versions["model_version"], "name": versions["name"],
            "stage": versions["stage"].fillna("unregistered"),
            "macro_f1": [_metrics(m).get("macro_f1") for m in versions["metrics"]],
            "scored_articles": versions["n_scores"],
            "created": to_tz(versions["created_at"], tz),
        }),
        hide_index=True, width="stretch",
        column_config={
            "macro_f1": st.column_config.NumberColumn("macro-F1", format="%.3f"),
            "created": st.column_config.DatetimeColumn(f"created ({tz})", format=TIME_FORMAT),
        },
    )


path, tz = db_path(), display_tz()
st.title("Model")
build_panel(load_settings())
require_data(path)
try:
    versions = queries.model_versions(path)
    version = production(path, versions)
    if version is not None:
        drift(path)
        shadow(path, versions, version)
    version_table(versions, tz)
except StorageError as exc:
    st.warning(f"Cannot read the database right now: {exc}")
    st.stop()
