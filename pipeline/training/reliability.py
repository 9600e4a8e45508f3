"""Reliability diagrams: how often a model is right when it says it is p sure.

One chart definition (Altair) serves the model card (rendered to SVG with ``vl-convert``) and
the dashboard's model page, from the bins of :func:`pipeline.training.evaluate.calibration`.
The diagram is the one of Guo et al. 2017 (figure 1, bottom): accuracy per confidence bin
against the diagonal of perfect calibration; bars under the diagonal are overconfidence.
"""

from __future__ import annotations

from collections.abc import Mapping

import altair as alt
import pandas as pd


def reliability_frame(calibrations: Mapping[str, Mapping]) -> pd.DataFrame:
    """One row per non-empty confidence bin of each named calibration result.

    Args:
        calibrations: ``{series name: calibration dict}``, each as returned by
            :func:`pipeline.training.evaluate.calibration` (``bins`` with ``lower``, ``upper``,
            ``n``, ``confidence``, ``accuracy``); None values are skipped.

    Returns:
        columns ``series``, ``lower``, ``upper``, ``middle``, ``n``, ``confidence``,
        ``accuracy`` (confidences and accuracies in [0, 1]).
    """
    rows = []
    for series, result in calibrations.items():
        for item in (result or {}).get("bins", []):
            rows.append({"series": series, "lower": item["lower"], "upper": item["upper"],
                         "middle": (item["lower"] + item["upper"]) / 2, "n": item["n"],
                         "confidence": item["confidence"], "accuracy": item["accuracy"]})
    return pd.DataFrame(rows, columns=["series", "lower", "upper", "middle", "n", "confidence",
                                       "accuracy"])


def reliability_chart(calibrations: Mapping[str, Mapping], *, title: str = "Reliability",
                      width: int = 320, height: int = 260) -> alt.LayerChart:
    """Accuracy against mean confidence per bin, one line per series, with the diagonal.

    Points are sized by the rows in the bin, so a bin of three headlines does not look like
    evidence. Arguments as :func:`reliability_frame`; ``width``/``height`` in pixels.
    """
    frame = reliability_frame(calibrations)
    diagonal = alt.Chart(pd.DataFrame({"x": [0.0, 1.0], "y": [0.0, 1.0]})).mark_line(
        color="#9e9e9e", strokeDash=[4, 4]).encode(x="x:Q", y="y:Q")
    axis_x = alt.X("confidence:Q", title="mean confidence of the top label",
                   scale=alt.Scale(domain=[0, 1]))
    axis_y = alt.Y("accuracy:Q", title="accuracy", scale=alt.Scale(domain=[0, 1]))
    base = alt.Chart(frame).encode(x=axis_x, y=axis_y, color=alt.Color("series:N", title=None))
    lines = base.mark_line() + base.mark_circle(opacity=0.8).encode(
        size=alt.Size("n:Q", title="rows", scale=alt.Scale(range=[15, 250])),
        tooltip=["series:N", alt.Tooltip("lower:Q", format=".2f"),
                 alt.Tooltip("upper:Q", format=".2f"), "n:Q",
                 alt.Tooltip("confidence:Q", format=".3f"),
                 alt.Tooltip("accuracy:Q", format=".3f")])
    return (diagonal + lines).properties(title=title, width=width, height=height)


def reliability_svg(calibrations: Mapping[str, Mapping], *, title: str = "Reliability") -> str:
    """:func:`reliability_chart` as an SVG document (for a model card).

    Raises:
        ImportError: ``vl-convert-python`` is not installed (it is a dependency).
    """
    import vl_convert

    spec = reliability_chart(calibrations, title=title).to_json()
    return vl_convert.vegalite_to_svg(spec)


def reliability_table(result: Mapping) -> str:
    """The bins of one calibration result as a Markdown table (for a model card)."""
    lines = ["| confidence bin | rows | mean confidence | accuracy |", "|---|---|---|---|"]
    for item in result.get("bins", []):
        lines.append(f"| {item['lower']:.2f}-{item['upper']:.2f} | {item['n']} | "
                     f"{item['confidence']:.3f} | {item['accuracy']:.3f} |")
    return "\n".join(lines)
