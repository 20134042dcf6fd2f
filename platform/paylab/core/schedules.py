"""EventBridge schedule expressions (`rate(...)`, AWS's six-field `cron(...)`) and their runs.

AWS's cron dialect is Quartz's, not Unix's: day-of-week 1-7 is SUN-SAT, exactly one of
day-of-month and day-of-week is `?`, there is a year field (1970-2199), and `L`, `W`, `#`
exist. croniter (pallets-eco, maintained) knows L/W/# but numbers weekdays 0-6, writes the
last Friday `L5` where AWS writes `6L`, puts seconds before the year and has no `?`: the
translation would be as long as this evaluator, which follows the AWS page line by line.
Every instant here is UTC, as EventBridge's rules are.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

__all__ = ["Cron", "Rate", "Schedule", "ScheduleError", "parse"]


class ScheduleError(ValueError):
    """The text is not an EventBridge schedule expression AWS would accept."""


_RATE = re.compile(r"rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)", re.ASCII)
_CRON = re.compile(r"cron\((.*)\)", re.ASCII | re.DOTALL)
_UNITS = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}
_MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_MONTHS = {n: i + 1 for i, n in enumerate(_MONTH_NAMES)}  # not calendar's: it follows the locale
_DAYS = {n: i + 1 for i, n in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"))}
_MIN_YEAR, _MAX_YEAR = 1970, 2199


def _utc(instant: datetime) -> datetime:
    if instant.tzinfo is None:
        raise ScheduleError("instants must carry a time zone (naive datetimes are ambiguous)")
    return instant.astimezone(UTC)


@dataclass(frozen=True)
class Rate:
    """`rate(N unit)`: every N units, counted from when the rule was created (the anchor)."""

    expression: str
    interval: timedelta

    def next_runs(
        self, after: datetime, count: int = 1, anchor: datetime | None = None
    ) -> list[datetime]:
        """The `count` runs strictly after `after`; without an anchor, the latest they can come."""
        after = _utc(after)
        # AWS starts counting when the rule is created and no API tells when that was, so
        # without an anchor the answer is an upper bound: one interval from `after`.
        start = _utc(anchor) if anchor is not None else after
        steps = max(0, (after - start) // self.interval + 1)
        return [start + (steps + i) * self.interval for i in range(count)]


@dataclass(frozen=True)
class Cron:
    """`cron(minutes hours day-of-month month day-of-week year)`, evaluated in UTC."""

    expression: str
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    day_of_month: str
    months: tuple[int, ...]
    day_of_week: str
    years: tuple[int, ...]

    def next_runs(self, after: datetime, count: int = 1) -> list[datetime]:
        """The first `count` runs strictly after `after` (fewer when the years run out)."""
        start = _utc(after).replace(second=0, microsecond=0) + timedelta(minutes=1)
        runs: list[datetime] = []
        for run in self._runs_from(start):
            runs.append(run)
            if len(runs) == count:
                break
        return runs

    def days(self, year: int, month: int) -> list[int]:
        """The days of that month on which the expression runs."""
        if self.day_of_week == "?":
            return _month_days(self.day_of_month, year, month)
        return _week_days(self.day_of_week, year, month)

    def _runs_from(self, start: datetime) -> Iterator[datetime]:
        for year in (y for y in self.years if y >= start.year):
            first_year = year == start.year
            for month in (m for m in self.months if not first_year or m >= start.month):
                first_month = first_year and month == start.month
                for day in (d for d in self.days(year, month) if not first_month or d >= start.day):
                    first_day = first_month and day == start.day
                    for hour in (h for h in self.hours if not first_day or h >= start.hour):
                        first_hour = first_day and hour == start.hour
                        for minute in self.minutes:
                            if not first_hour or minute >= start.minute:
                                yield datetime(year, month, day, hour, minute, tzinfo=UTC)


Schedule = Rate | Cron


def parse(expression: str) -> Schedule:
    """Parse `rate(...)` or `cron(...)` as EventBridge does, or raise ScheduleError."""
    text = expression.strip()
    if match := _RATE.fullmatch(text):
        value, unit = int(match[1]), match[2]
        if value < 1:
            raise ScheduleError(f"{expression!r}: the rate must be a positive whole number")
        if (value == 1) != (not unit.endswith("s")):
            raise ScheduleError(f"{expression!r}: the unit is singular for 1 and plural above")
        return Rate(text, value * _UNITS[unit.rstrip("s")])
    if match := _CRON.fullmatch(text):
        return _parse_cron(text, match[1].split())
    raise ScheduleError(f"{expression!r} is neither rate(N unit) nor cron(6 fields)")


def _parse_cron(text: str, fields: list[str]) -> Cron:
    if len(fields) != 6:
        raise ScheduleError(f"{text!r}: cron needs 6 fields, got {len(fields)}")
    minutes, hours, dom, months, dow, years = (f.upper() for f in fields)
    if (dom == "?") == (dow == "?"):
        raise ScheduleError(f"{text!r}: exactly one of day-of-month and day-of-week must be ?")
    cron = Cron(
        expression=text,
        minutes=_values(minutes, 0, 59, "minutes"),
        hours=_values(hours, 0, 23, "hours"),
        day_of_month=dom,
        months=_values(months, 1, 12, "month", _MONTHS),
        day_of_week=dow,
        years=_values(years, _MIN_YEAR, _MAX_YEAR, "year"),
    )
    try:  # check the day fields now, on a month, rather than when first evaluated
        cron.days(2026, 1)
    except ScheduleError as exc:
        raise ScheduleError(f"{text!r}: {exc}") from None
    return cron


def _number(token: str, low: int, high: int, what: str, names: dict[str, int] | None) -> int:
    if names and token in names:
        return names[token]
    if not token.isdigit() or not low <= int(token) <= high:
        raise ScheduleError(f"{token!r} is not a valid {what} ({low}-{high})")
    return int(token)


def _values(
    field: str, low: int, high: int, what: str, names: dict[str, int] | None = None
) -> tuple[int, ...]:
    """The sorted values of a plain field: `*`, lists, ranges (wrapping, like Quartz), steps."""
    result: set[int] = set()
    for item in field.split(","):
        base, _, step_text = item.partition("/")
        step = _number(step_text, 1, high - low + 1, f"{what} step", None) if step_text else 1
        if base == "*":
            first, last = low, high
        elif "-" in base:
            start, _, end = base.partition("-")
            first, last = (
                _number(start, low, high, what, names),
                _number(end, low, high, what, names),
            )
        else:
            first = _number(base, low, high, what, names)
            # `5/15` runs from 5 to the end of the range; a lone `5` is just 5.
            last = high if step_text else first
        span = (
            list(range(first, last + 1))
            if first <= last
            else [*range(first, high + 1), *range(low, last + 1)]
        )
        result.update(span[::step])
    return tuple(sorted(result))


def _aws_weekday(day: date) -> int:
    return (day.weekday() + 1) % 7 + 1  # Python's Monday=0 -> AWS's MON=2, SUN=1


def _month_days(field: str, year: int, month: int) -> list[int]:
    last = calendar.monthrange(year, month)[1]
    if field == "L":
        return [last]
    if field == "LW":
        return [_nearest_weekday(year, month, last)]
    if field.endswith("W"):
        day = _number(field[:-1], 1, 31, "day-of-month", None)
        # Quartz: a W day past the month's end means no run that month.
        return [_nearest_weekday(year, month, day)] if day <= last else []
    return [d for d in _values(field, 1, 31, "day-of-month") if d <= last]


def _nearest_weekday(year: int, month: int, day: int) -> int:
    """The weekday (MON-FRI) nearest `day` without leaving the month (Quartz's `W`)."""
    last = calendar.monthrange(year, month)[1]
    weekday = date(year, month, day).weekday()
    if weekday == 5:  # Saturday: Friday before, or Monday after when the 1st is a Saturday
        return day - 1 if day > 1 else day + 2
    if weekday == 6:  # Sunday: Monday after, or Friday before when it ends the month
        return day + 1 if day < last else day - 2
    return day


def _week_days(field: str, year: int, month: int) -> list[int]:
    last = calendar.monthrange(year, month)[1]
    dates = [date(year, month, d) for d in range(1, last + 1)]
    if "#" in field:
        weekday_text, _, nth_text = field.partition("#")
        weekday = _number(weekday_text, 1, 7, "day-of-week", _DAYS)
        nth = _number(nth_text, 1, 5, "week of the month", None)
        matches = [d.day for d in dates if _aws_weekday(d) == weekday]
        return matches[nth - 1 : nth]
    if field.endswith("L") and field != "L":
        weekday = _number(field[:-1], 1, 7, "day-of-week", _DAYS)
        return [d.day for d in dates if _aws_weekday(d) == weekday][-1:]
    # A lone L is "the last day of the week": Saturday (Quartz reads it as 7).
    weekdays = {7} if field == "L" else set(_values(field, 1, 7, "day-of-week", _DAYS))
    return [d.day for d in dates if _aws_weekday(d) in weekdays]
