"""What model is running and what is being built: the sidebar line on every page and the Model
page's panel (phase, progress bar, ETA), refreshed every few seconds while a build runs.

Reads the model registry (production's record, ``info["recipe"]``) and the build status file
(:mod:`pipeline.training.status`); never writes.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from pipeline.config import Settings
from pipeline.errors import TonewatchError

#: Seconds between two refreshes of the Model page's build panel while a build runs.
REFRESH_S = 5


@dataclass
class ModelState:
    """The production model and the default model's build, as the dashboard shows them."""

    production: str | None
    recipe: str | None
    accuracy: float | None
    macro_f1: float | None
    build: object | None  # pipeline.training.status.BuildStatus


def model_state(settings: Settings) -> ModelState:
    """Read production's registry record and the build status (None fields when absent)."""
    from pipeline.registry import DEFAULT_NAME, Registry
    from pipeline.training.status import read_status

    registry = Registry(settings.model_registry)
    try:
        record = registry.get("production")
    except TonewatchError:
        record = None
    metrics = record.metrics if record is not None else {}
    return ModelState(
        production=record.model_version if record is not None else None,
        recipe=record.info.get("recipe", "custom") if record is not None else None,
        accuracy=metrics.get("accuracy"), macro_f1=metrics.get("macro_f1"),
        build=read_status(registry.root, DEFAULT_NAME),
    )


def _eta(seconds: float | None) -> str:
    if seconds is None:
        return "ETA unknown"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"about {hours} h {minutes:02d} min left" if hours else f"about {minutes} min {secs:02d} s left"


def build_line(state: ModelState) -> str | None:
    """One line on the running build (``None`` when none runs)."""
    build = state.build
    if build is None or build.state != "running":
        return None
    done = f" {build.fraction:.0%}," if build.fraction is not None else ""
    return f"{build.phase}:{done} {_eta(build.eta_seconds)}"


def sidebar_line(settings: Settings) -> None:
    """The sidebar's 'Scores from' caption: production version, quick or full, build progress."""
    try:
        state = model_state(settings)
    except (OSError, ValueError, TonewatchError):
        return
    if state.production is None:
        return
    kind = " (quick first model)" if state.recipe == "quick" else ""
    st.sidebar.caption(f"Scores from `{state.production}`{kind}")
    line = build_line(state)
    if line:
        st.sidebar.caption(f"Full model: {line}")


def _panel(settings: Settings) -> None:
    state = model_state(settings)
    build = state.build
    if state.recipe == "quick":
        acc = f"validation accuracy {state.accuracy:.1%}, " if state.accuracy is not None else ""
        st.warning(
            f"Scores now come from the **quick first model** `{state.production}` ({acc}"
            "built in minutes, article level only: companies inherit their article's score). "
            "The full default model replaces it once it is built, checked and found better; "
            "the stored articles are then rescored.", icon=":material/bolt:")
    if build is None:
        if state.recipe == "quick":
            st.info("No build of the full model has started: run `tonewatch model upgrade` "
                    "(or `make demo` again).")
        return
    if build.state == "running":
        st.markdown(f"**Building the full default model** (pid {build.pid}, started "
                    f"{build.started_at.replace('T', ' ')[:16]} UTC)")
        text = f"{build.phase} — {_eta(build.eta_seconds)}"
        if build.total:
            text = f"{build.phase}: step {build.step:,} of {build.total:,} — {_eta(build.eta_seconds)}"
        st.progress(build.fraction or 0.0, text=text)
    elif build.state == "failed":
        st.error(f"The last build of the full model failed: {build.message}. Run "
                 "`tonewatch model upgrade` to try again.")
    elif build.message:
        st.success(f"Last build ({build.updated_at.replace('T', ' ')[:16]} UTC): {build.message}")
    if build.log:
        st.caption(f"Build log: `{build.log}`")


def build_panel(settings: Settings) -> None:
    """The Model page's panel: a warning when the quick model scores, the build's phase,
    progress and ETA (refreshed every :data:`REFRESH_S` seconds), its outcome or its error."""
    st.fragment(run_every=REFRESH_S)(_panel)(settings)
