"""Dates in a line of text, by the date shapes of the rules."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from services.pipeline.normalizing.rules import A_YEAR, Rules


def in_utc(moment: datetime | None) -> datetime | None:
    """Return an aware moment in UTC; a naive one (zone unknown) as it is."""
    if moment is None or moment.utcoffset() is None:
        return moment
    return moment.astimezone(UTC)


def find_date(key: str, rules: Rules, *, alone: bool = False) -> datetime | None:
    """Parse the first date in a line's matching form; with alone, only on a date-only line."""
    if not A_YEAR.search(key):
        # Every date shape has a year: most lines are done with one search.
        return None
    best: re.Match[str] | None = None
    for pattern in rules.dates:
        match = pattern.search(key)
        if match and (best is None or match.start() < best.start()):
            best = match
    if best is None:
        return None
    if alone:
        rest = rules.date_words.sub(" ", key[: best.start()] + " " + key[best.end() :])
        # What is left may be a view counter ("18:53 333"), never words.
        if any(c.isalpha() for c in rest) or len(re.sub(r"[\W_]", "", rest)) > 6:
            return None
    return _moment(best, rules)


def _moment(match: re.Match[str], rules: Rules) -> datetime | None:
    parts = match.groupdict()
    month = rules.months.get(parts["month"]) if parts.get("month") else int(parts["mm"])
    hour = parts.get("hour") or parts.get("lead_hour") or "0"
    minute = parts.get("minute") or parts.get("lead_minute") or "0"
    try:
        moment = datetime(
            int(parts["year"]),
            month or 0,
            int(parts["day"]),
            _hour_of_day(int(hour), parts.get("ampm")),
            int(minute),
            int(parts.get("second") or 0),
        )
    except ValueError:
        return None
    offset = _utc_offset(parts.get("zone"), parts["offset"] or parts["zone_offset"], rules)
    if offset is None:
        return moment
    return (moment - offset).replace(tzinfo=UTC)


def _hour_of_day(hour: int, meridiem: str | None) -> int:
    if meridiem is None:
        return hour
    afternoon = meridiem.startswith("p") or meridiem == "م"
    return hour % 12 + (12 if afternoon else 0)


def _utc_offset(zone: str | None, offset: str | None, rules: Rules) -> timedelta | None:
    if zone is None and offset is None:
        return None
    minutes = rules.timezones.get(zone, 0) if zone else 0
    if offset:
        sign = -1 if offset[0] == "-" else 1
        digits = offset[1:].replace(":", "")
        hours, extra = (digits[:-2], digits[-2:]) if len(digits) > 2 else (digits, "0")
        minutes += sign * (int(hours) * 60 + int(extra))
    return timedelta(minutes=minutes)
