"""Dates and times as instructors write them, read the same way on every Python the kit supports
(`datetime.fromisoformat` reads different things on 3.10 and 3.11): ISO 8601 with a time of day
and an optional offset, Excel's slash dates where the file settles their order (`slash_order`),
and dates with dots, day first. The forms read and refused are on docs/how-to/deadlines.md
("Where the hand-in times come from"); a time without an offset is the course's (`in_zone`).
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

ISO_EXAMPLE = "2026-10-02 23:59"
EXCEL_FIX = (
    f"write it as {ISO_EXAMPLE} (ISO 8601; in Excel: Format Cells > Custom > "
    "yyyy-mm-dd hh:mm, then save as CSV)"
)
_ISO = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?"
    r"\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?)?$"
)
_SLASH = re.compile(
    r"^(\d{1,2})/(\d{1,2})/(\d{2,4})(?:\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AaPp][Mm])?)?$"
)
_DOTTED = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{2,4})(?:\s+(\d{1,2}):(\d{2})(?::(\d{2}))?)?$")
ORDERS = ("day first", "month first")


class DateError(ValueError):
    """A time that cannot be read; the message says why (the caller names the file and line)."""


def _offset(text: str | None) -> timezone | None:
    if not text:
        return None
    if text in ("Z", "z"):
        return timezone.utc
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:] or 0)
    if hours > 23 or minutes > 59:
        raise DateError(f"the offset {text} is not a time zone offset")
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def _build(year, month, day, hour, minute, second=0, micro=0, zone=None) -> datetime:
    if hour == 24:  # midnight at the end of the day, as some write it
        raise DateError(f"{hour}:{minute:02d} is no time of day; write 23:59, the end of that "
                        "day")  # fmt: skip
    try:
        return datetime(year, month, day, hour, minute, second, micro, tzinfo=zone)
    except ValueError as error:  # 2026-02-30, 24:10, ...
        raise DateError(f"no such date or time ({error})") from None


def is_slash_date(text: str) -> bool:
    """Whether `text` is written the way Excel writes dates in some locales (``10/02/2026``)."""
    return _SLASH.match(text.strip()) is not None


def slash_numbers(text: str) -> tuple[int, int]:
    """The first two numbers of a slash date: (day, month) or (month, day), unknown which."""
    found = _SLASH.match(text.strip())
    return int(found[1]), int(found[2])


def parse_time(text: str, order: str | None = None) -> datetime:
    """The moment `text` names: time-zone aware when it carries an offset, else naive.

    Args:
        text: a time in one of the module docstring's forms.
        order: for a slash date, "day first" or "month first" (`slash_order`); None refuses one.

    Returns:
        The time, to the microsecond.

    Raises:
        DateError: saying what is wrong and how to write it.
    """
    text = text.strip()
    iso = _ISO.match(text)
    if iso:
        year, month, day, hour, minute, second, fraction, offset = iso.groups()
        if hour is None:
            raise DateError(f"a date without a time of day; give the time too, e.g. "
                            f"{text} 23:59")  # fmt: skip
        micro = int((fraction or "0")[:6].ljust(6, "0"))
        return _build(int(year), int(month), int(day), int(hour), int(minute), int(second or 0),
                      micro, _offset(offset))  # fmt: skip
    slash, dotted = _SLASH.match(text), _DOTTED.match(text)
    if not (slash or dotted):
        raise DateError(f"not a date and time the kit reads; {EXCEL_FIX}, or with an offset, "
                        "2026-10-02T23:59+02:00")  # fmt: skip
    first, second_number, year, hour, minute, seconds = (slash or dotted).groups()[:6]
    if len(year) != 4:
        raise DateError(f"a two-digit year; {EXCEL_FIX}")
    if hour is None:
        raise DateError(f"a date without a time of day; {EXCEL_FIX}")
    day, month, hour = first, second_number, int(hour)  # dates with dots: always day first
    if slash:
        if order not in ORDERS:
            raise DateError(f"{first}/{second_number}/{year} could be either day/month or "
                            f"month/day; {EXCEL_FIX}")  # fmt: skip
        if order == ORDERS[1]:
            day, month = second_number, first
        half = slash[7]
        if half:
            if not 1 <= hour <= 12:
                raise DateError(f"{hour} {half.upper()} is no time of day")
            hour = hour % 12 + (12 if half.lower() == "pm" else 0)
    return _build(int(year), int(month), int(day), hour, int(minute), int(seconds or 0))


def dotted_note(texts: dict[int, str]) -> str:
    """The sentence saying how the dates with dots among `texts` ({line: text}) were read, as
    `slash_order` says it of slash dates ("" when there is none)."""
    lines = [line for line, text in texts.items() if _DOTTED.match(text.strip())]
    return f"dates with dots read day first (dd.mm.yyyy), as line {lines[0]} shows" if lines else ""


def slash_order(texts: dict[int, str]) -> tuple[str | None, str]:
    """Whether the slash dates of one file put the day or the month first, from the dates
    themselves: (the order or None when no date settles it, a sentence saying which line
    settled it). `texts`: {line: text} of the file's slash dates.

    Raises:
        DateError: one line reads only day first and another only month first.
    """
    day_first = [line for line, t in texts.items() if slash_numbers(t)[0] > 12]
    month_first = [line for line, t in texts.items() if slash_numbers(t)[1] > 12]
    if day_first and month_first:
        raise DateError(
            f"line {day_first[0]} ({texts[day_first[0]]!r}) puts the day first and line "
            f"{month_first[0]} ({texts[month_first[0]]!r}) the month first; {EXCEL_FIX}"
        )
    if day_first:
        return ORDERS[0], f"slash dates read day first, as line {day_first[0]} shows"
    if month_first:
        return ORDERS[1], f"slash dates read month first, as line {month_first[0]} shows"
    return None, ""


def toml_time(value: object) -> datetime:
    """A course file's date value: a TOML date-time, or a string `parse_time` reads (slash
    dates refused: one value cannot settle their order); DateError otherwise."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        raise DateError(f"a date without a time of day; give the time too, e.g. "
                        f'"{value.isoformat()} 23:59"')  # fmt: skip
    if not isinstance(value, str):
        raise DateError(f'not a date; write it as "{ISO_EXAMPLE}"')
    if is_slash_date(value):
        raise DateError(f'a slash date (day or month first?); write it as "{ISO_EXAMPLE}"')
    return parse_time(value)


def in_zone(moment: datetime, zone: ZoneInfo) -> datetime:
    """`moment` itself when it has an offset, else read as a time in `zone` (the course's)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)
