"""An entry's date string → a UTC instant and how far to trust it (``date_quality``).

RFC 822 (RSS) and ISO 8601 (Atom) are read first, by the standard library; anything else
(localised month names, zone names such as CET/MEZ, 12-hour clocks) by dateparser. Zone
abbreviations that name several zones (IST, CST, BST: :data:`AMBIGUOUS_ZONES`) are exact only
in a feed configured with one of those zones. See :func:`parse_date`.
"""

from __future__ import annotations

import email.utils
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import dateparser

#: How far past the fetch a date may lie (clock skew) before it is out of range.
FUTURE_TOLERANCE = timedelta(days=1)
#: Dates older than this before the fetch are out of range, unless a feed sets ``horizon_days``.
DEFAULT_HORIZON = timedelta(days=365 * 30)
#: Languages dateparser reads month and day names in.
DATEPARSER_LANGUAGES = ["en", "pt", "es", "de", "fr", "it", "nl"]

# A zone at the end of a date string: an offset, "Z" right after the time, or an upper-case
# abbreviation (GMT, EST, CEST). Case-sensitive on purpose: "Uhr" or "hrs" are not zones.
# "AM"/"PM" end zone-less times and are not zones.
_TZ_IN_RAW = re.compile(r"([+-]\d{2}:?\d{2}|(?<=\d)Z|\b(?!AM\b|PM\b)[A-Z]{2,5})\s*$")
_MERIDIEM = re.compile(r"\d\s*[ap]\.?m\.?(?!\w)", re.I)
# "GMT+5:30", "UTC-3", "GMT+05:30": an offset written after a zone name (+ is east of UTC).
_NAMED_OFFSET = re.compile(r"\b(?:GMT|UTC|UT)\s*([+-])(\d{1,2})(?::?(\d{2}))?\s*$", re.I)


def parse_date(
    raw: str | None,
    *,
    fetched_at: datetime,
    feed_timezone: str | None = None,
    horizon: timedelta = DEFAULT_HORIZON,
) -> tuple[datetime, str]:
    """Resolve an entry's date string to a UTC instant and a quality flag.

    Args:
        raw: the date as the feed wrote it (RFC 822, RFC 3339, or a localised form such as
            "Seg, 24 Set 2018 19:22:00 -0300"), or None.
        fetched_at: the fetch instant (UTC), used when no usable date exists.
        feed_timezone: IANA zone for zone-less dates (default UTC).
        horizon: dates older than ``fetched_at - horizon`` are treated as unusable.

    Returns:
        ``(instant_utc, quality)`` with quality ``exact`` (zone given), ``zone_assumed``,
        ``inferred`` (no usable date: ``fetched_at``) or ``out_of_range`` (a date more than a
        day in the future or older than ``horizon``, replaced by ``fetched_at``).
    """
    return _parse_date(raw, fetched_at=fetched_at, feed_timezone=feed_timezone,
                       horizon=horizon)


def _parse_date(raw: str | None, *, fetched_at: datetime, feed_timezone: str | None,
                horizon: timedelta, date_order: str | None = None) -> tuple[datetime, str]:
    """:func:`parse_date`, with the order of an all-numeric date (``DMY``, ``MDY``) when the
    zone abbreviation tells it."""
    if not raw or not raw.strip():
        return fetched_at, "inferred"
    raw = _NAMED_OFFSET.sub(_numeric_offset, raw.strip())
    ambiguous = _AMBIGUOUS_AT_END.search(raw)
    if ambiguous:
        return _parse_ambiguous(raw, ambiguous, fetched_at=fetched_at,
                                feed_timezone=feed_timezone, horizon=horizon)
    zone = feed_timezone or "UTC"
    fast = _parse_standard(raw.strip())
    # email.utils knows only the RFC 822 zone names; "CET", "BST", "MEZ"... come back naive as
    # if zone-less, so such strings go to dateparser, which knows them.
    # email.utils also reads "09:00 PM" as 09:00: a 12-hour time goes to dateparser too.
    if fast is not None and not (fast.tzinfo is None and (_NAMED_ZONE.search(raw.strip())
                                                          or _MERIDIEM.search(raw))):
        if fast.tzinfo is None:
            instant, quality = fast.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC), "zone_assumed"
        else:
            instant, quality = fast.astimezone(UTC), "exact"
        if instant > fetched_at + FUTURE_TOLERANCE or instant < fetched_at - horizon:
            return fetched_at, "out_of_range"
        return instant, quality
    # Localised or unusual forms ("Seg, 24 Set 2018 19:22:00 -0300"): dateparser is slower
    # (milliseconds per call) but knows month and day names in many languages.
    order = {"DATE_ORDER": date_order} if date_order else {}
    value = dateparser.parse(
        raw.strip(),
        languages=DATEPARSER_LANGUAGES,
        settings={"RETURN_AS_TIMEZONE_AWARE": False, "PREFER_DAY_OF_MONTH": "first",
                  "PARSERS": ["absolute-time", "custom-formats"], **order},
    )
    if value is None:
        return fetched_at, "inferred"
    aware = dateparser.parse(
        raw.strip(),
        languages=DATEPARSER_LANGUAGES,
        settings={"RETURN_AS_TIMEZONE_AWARE": True, "TIMEZONE": zone, "TO_TIMEZONE": "UTC",
                  "PARSERS": ["absolute-time", "custom-formats"], **order},
    )
    has_zone = bool(_TZ_IN_RAW.search(raw.strip())) and aware is not None
    if aware is None:
        aware = value.replace(tzinfo=ZoneInfo(zone))
    instant = aware.astimezone(UTC)
    if instant > fetched_at + FUTURE_TOLERANCE or instant < fetched_at - horizon:
        return fetched_at, "out_of_range"
    return instant, "exact" if has_zone else "zone_assumed"


# A trailing alphabetic zone abbreviation (CET, BST, MEZ, AEST...), not an RFC 822 numeric offset.
_NAMED_ZONE = re.compile(r"\b(?!AM$|PM$)[A-Z]{2,5}$")

#: Zone abbreviations that name several zones: the reading taken when the feed's own zone does
#: not use the abbreviation (a fixed offset), the order of an all-numeric date in those places,
#: and the zones that use it. "IST" is India, Israel and Irish (summer) Standard Time; India is
#: taken, as the largest body of financial news dated "IST" (Indian exchanges and business
#: press). "CST" is US Central (RFC 822's meaning), China and Cuba; "BST" British Summer and
#: Bangladesh Standard Time. Such a date is flagged ``zone_assumed``: only a feed configured
#: with one of the zones that use it makes it ``exact``.
AMBIGUOUS_ZONES = {
    "IST": ("+0530", "DMY", ("Asia/Kolkata", "Asia/Jerusalem", "Europe/Dublin")),
    "CST": ("-0600", "MDY", ("America/Chicago", "Asia/Shanghai", "America/Havana")),
    "BST": ("+0100", "DMY", ("Europe/London", "Asia/Dhaka")),
}
# Any case: "ist" is IST, while other lower-case words at the end ("Uhr", "hrs") are not zones.
_AMBIGUOUS_AT_END = re.compile(rf"\b({'|'.join(AMBIGUOUS_ZONES)})$", re.I)


def _numeric_offset(match: re.Match) -> str:
    """``GMT+5:30`` → ``+0530`` (what RFC 822 and ISO parsers read)."""
    sign, hours, minutes = match.groups()
    return f"{sign}{int(hours):02d}{minutes or '00'}"


def _parse_ambiguous(raw: str, named: re.Match, *, fetched_at: datetime,
                     feed_timezone: str | None, horizon: timedelta) -> tuple[datetime, str]:
    """:func:`parse_date` for a string ending in an :data:`AMBIGUOUS_ZONES` abbreviation: the
    local time read in the feed's zone when that zone uses the abbreviation at that time
    (``exact``), else at the default offset (``zone_assumed``)."""
    abbreviation, local = named.group(1).upper(), raw[:named.start()].rstrip()
    offset, order, users = AMBIGUOUS_ZONES[abbreviation]
    if feed_timezone in users:
        instant, quality = _parse_date(local, fetched_at=fetched_at, feed_timezone=feed_timezone,
                                       horizon=horizon, date_order=order)
        # zoneinfo names some zones by their offset ("+06" for Dhaka) rather than a letter code
        name = instant.astimezone(ZoneInfo(feed_timezone)).tzname() or ""
        if quality == "zone_assumed" and (name == abbreviation or name[:1] in "+-"):
            return instant, "exact"
    instant, quality = _parse_date(f"{local} {offset}", fetched_at=fetched_at,
                                   feed_timezone=None, horizon=horizon, date_order=order)
    return instant, "zone_assumed" if quality == "exact" else quality  # never exact


def _parse_standard(raw: str) -> datetime | None:
    """RFC 822/2822 (RSS) or ISO 8601/RFC 3339 (Atom) dates; None for anything else.

    Returns an aware datetime when the string carries a zone (offsets and the RFC 822 names
    UT, GMT, EST ... PDT), a naive one when it does not. RFC 2822 "-0000" means "zone unknown"
    and comes back naive.
    """
    try:
        return email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        pass
    try:
        return datetime.fromisoformat(raw[:-1] + "+00:00" if raw.endswith(("Z", "z")) else raw)
    except ValueError:
        return None
