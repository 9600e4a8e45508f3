"""tonewatch dashboard: the router and the frame shared by every page.

Served by ``tonewatch dashboard`` (or ``streamlit run dashboard/streamlit_app.py``); the
``dashboard`` package is installed with ``pipeline``, so it needs no ``sys.path`` edit. This
file sets the page config, refuses to serve a network address without a way to sign in,
draws the sidebar (timezone selector, data location for signed-in users and on loopback,
sign-in: see :mod:`dashboard.auth`), asks strangers to sign in when anonymous reading is off
(``TONEWATCH_DASHBOARD_ANONYMOUS_READ``; off beyond loopback by default) and hands over to
the selected page; pages live in ``dashboard/app_pages/`` and read data only through
``dashboard.queries``. A link ``/?alert=<alert_id>`` (the one alert messages carry) is
forwarded to the Alerts page.

Session state set here for the pages:
    ``tz``: IANA timezone name chosen in the sidebar (default ``UTC``). Storage stays UTC;
        pages convert instants to this zone for display only.
    ``db_path``: absolute path of ``tonewatch.duckdb`` from ``TONEWATCH_DATA_DIR``.
"""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import streamlit as st

from dashboard import auth
from dashboard.build_panel import sidebar_line
from pipeline.config import load_settings
from pipeline.errors import ConfigError

# Page files next to this one, wherever the package is installed (st.Page takes file paths).
_PAGES_DIR = Path(__file__).resolve().parent / "app_pages"

# One line per page; the first is the default.
PAGES = [
    st.Page(_PAGES_DIR / "overview.py", title="Overview", icon=":material/monitoring:",
            default=True),
    st.Page(_PAGES_DIR / "entities.py", title="Companies", icon=":material/domain:",
            url_path="companies"),
    st.Page(_PAGES_DIR / "sectors.py", title="Sectors", icon=":material/category:"),
    st.Page(_PAGES_DIR / "articles.py", title="Articles", icon=":material/article:"),
    st.Page(_PAGES_DIR / "alerts.py", title="Alerts", icon=":material/notifications_active:"),
    st.Page(_PAGES_DIR / "feeds.py", title="Feeds", icon=":material/rss_feed:"),
    st.Page(_PAGES_DIR / "model.py", title="Model", icon=":material/model_training:"),
]
ALERTS_PAGE = PAGES[4]

# Offered in the sidebar; zones the host's tz database lacks are dropped (UTC always works).
_TIMEZONES = (
    "UTC", "America/New_York", "America/Chicago", "America/Los_Angeles", "America/Sao_Paulo",
    "Europe/London", "Europe/Paris", "Europe/Berlin", "Europe/Zurich", "Asia/Dubai",
    "Asia/Kolkata", "Asia/Singapore", "Asia/Hong_Kong", "Asia/Shanghai", "Asia/Tokyo",
    "Australia/Sydney",
)


def _available_timezones() -> list[str]:
    """Return the offered zone names that this host can resolve, ``UTC`` first."""
    names = []
    for name in _TIMEZONES:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            continue
        names.append(name)
    return names or ["UTC"]


st.set_page_config(page_title="tonewatch", page_icon=":material/monitoring:", layout="wide")

try:
    settings = load_settings()
except ConfigError as exc:
    st.error(f"Configuration error: {exc}")
    st.stop()

# Served beyond this host without a way to sign in (`streamlit run --server.address 0.0.0.0`
# skips `tonewatch dashboard`'s check): say so and serve nothing.
address = auth.served_address()
refusal = auth.serving_refusal(settings, address)
if refusal:
    st.error(refusal)
    st.stop()

st.session_state["db_path"] = str(settings.db_path.resolve())

page = st.navigation(PAGES)

# Alert messages link to `<dashboard>/?alert=<alert_id>`, which lands on the default page:
# hand the id over to the Alerts page.
if page.title == "Overview" and st.query_params.get("alert"):
    st.switch_page(ALERTS_PAGE, query_params={"alert": st.query_params["alert"]})

actor = auth.current_actor()
with st.sidebar:
    st.selectbox(
        "Display timezone",
        _available_timezones(),
        key="tz",
        help="Times are stored in UTC and converted to this zone only for display.",
    )
    if actor is not None or auth.is_loopback(address):
        st.caption(f"Data: `{st.session_state['db_path']}`")  # not for strangers
    sidebar_line(settings)
    auth.sign_in_panel()

if actor is None and not auth.anonymous_may_read(settings, address):
    st.info("Sign in (sidebar) to view the dashboard.")
    st.stop()

page.run()
