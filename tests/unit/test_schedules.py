"""EventBridge schedule expressions: AWS's cron dialect and rates, and their next runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from paylab.core.schedules import Cron, Rate, ScheduleError, parse


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def runs(expression: str, after: str, count: int = 3) -> list[str]:
    schedule = parse(expression)
    assert isinstance(schedule, Cron)
    return [r.strftime("%Y-%m-%dT%H:%MZ") for r in schedule.next_runs(at(after), count)]


def test_dispersion_midnight_bogota_is_five_utc() -> None:
    # The example: a Friday noon in Bogota; the next run is that night's 00:00 Bogota.
    assert runs("cron(0 5 * * ? *)", "2026-12-04T12:00-05:00", 2) == [
        "2026-12-05T05:00Z",
        "2026-12-06T05:00Z",
    ]


def test_a_run_exactly_at_the_instant_is_not_next() -> None:
    assert runs("cron(0 5 * * ? *)", "2026-12-05T05:00Z", 1) == ["2026-12-06T05:00Z"]
    assert runs("cron(0 5 * * ? *)", "2026-12-05T04:59:59.999Z", 1) == ["2026-12-05T05:00Z"]


def test_weekly_on_monday_by_name_and_by_number() -> None:
    # 2026-12-04 is a Friday; AWS numbers the week 1=SUN .. 7=SAT, so MON is 2.
    expected = ["2026-12-07T06:00Z", "2026-12-14T06:00Z", "2026-12-21T06:00Z"]
    assert runs("cron(0 6 ? * MON *)", "2026-12-04T12:00Z") == expected
    assert runs("cron(0 6 ? * 2 *)", "2026-12-04T12:00Z") == expected
    assert runs("cron(0 6 ? * 1 *)", "2026-12-04T12:00Z", 1) == ["2026-12-06T06:00Z"]  # SUN


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        # The examples table of AWS's "Cron expressions reference".
        ("cron(0 10 * * ? *)", "2026-12-04T10:00Z", ["2026-12-05T10:00Z", "2026-12-06T10:00Z"]),
        ("cron(15 12 * * ? *)", "2026-12-04T12:00Z", ["2026-12-04T12:15Z", "2026-12-05T12:15Z"]),
        (
            "cron(0 18 ? * MON-FRI *)",
            "2026-12-04T19:00Z",
            ["2026-12-07T18:00Z", "2026-12-08T18:00Z"],
        ),
        ("cron(0 8 1 * ? *)", "2026-12-04T00:00Z", ["2027-01-01T08:00Z", "2027-02-01T08:00Z"]),
        (
            "cron(0/15 * * * ? *)",
            "2026-12-04T23:40Z",
            ["2026-12-04T23:45Z", "2026-12-05T00:00Z"],
        ),
        (
            "cron(0/10 * ? * MON-FRI *)",
            "2026-12-04T23:55Z",  # Friday night: the next is Monday's first minute
            ["2026-12-07T00:00Z", "2026-12-07T00:10Z"],
        ),
        (
            "cron(0/5 8-17 ? * MON-FRI *)",
            "2026-12-04T17:54Z",
            ["2026-12-04T17:55Z", "2026-12-07T08:00Z"],
        ),
        ("cron(0 9 ? * 2#1 *)", "2026-12-04T00:00Z", ["2026-12-07T09:00Z", "2027-01-04T09:00Z"]),
    ],
)
def test_aws_documented_examples(expression: str, after: str, expected: list[str]) -> None:
    assert runs(expression, after, len(expected)) == expected


def test_last_day_of_the_month_and_leap_years() -> None:
    assert runs("cron(0 0 L * ? *)", "2027-12-15T00:00Z", 3) == [
        "2027-12-31T00:00Z",
        "2028-01-31T00:00Z",
        "2028-02-29T00:00Z",
    ]


def test_nearest_weekday_stays_in_the_month() -> None:
    # 2026-02-15 is a Sunday (-> Monday 16); 2026-02-01 is a Sunday (-> Monday 2);
    # 2026-08-01 is a Saturday: 1W cannot go back to July, so it is Monday the 3rd.
    assert runs("cron(0 0 15W * ? *)", "2026-02-01T00:00Z", 1) == ["2026-02-16T00:00Z"]
    assert runs("cron(0 0 1W * ? *)", "2026-01-31T00:00Z", 1) == ["2026-02-02T00:00Z"]
    assert runs("cron(0 0 1W * ? *)", "2026-07-31T00:00Z", 1) == ["2026-08-03T00:00Z"]
    # 2026-05-31 is a Sunday ending the month: the Friday before.
    assert runs("cron(0 0 31W * ? *)", "2026-05-01T00:00Z", 1) == ["2026-05-29T00:00Z"]
    # A W day past the month's end: no run that month (April has 30 days).
    assert runs("cron(0 0 31W * ? *)", "2026-04-01T00:00Z", 1) == ["2026-05-29T00:00Z"]


def test_last_weekday_of_the_month() -> None:
    # 2026-01-31 and 2026-02-28 are Saturdays.
    assert runs("cron(0 0 LW * ? *)", "2026-01-01T00:00Z", 2) == [
        "2026-01-30T00:00Z",
        "2026-02-27T00:00Z",
    ]


def test_last_and_nth_weekday_of_the_month() -> None:
    assert runs("cron(0 0 ? * 6L *)", "2026-01-01T00:00Z", 2) == [  # last Friday
        "2026-01-30T00:00Z",
        "2026-02-27T00:00Z",
    ]
    assert runs("cron(0 0 ? * 3#2 *)", "2026-01-01T00:00Z", 1) == ["2026-01-13T00:00Z"]
    assert runs("cron(0 0 ? * FRI#5 *)", "2026-01-01T00:00Z", 2) == [  # only 5-Friday months
        "2026-01-30T00:00Z",
        "2026-05-29T00:00Z",
    ]
    # A lone L is the week's last day, Saturday.
    assert runs("cron(0 0 ? * L *)", "2026-12-04T00:00Z", 1) == ["2026-12-05T00:00Z"]


def test_ranges_wrap_and_steps_and_years() -> None:
    assert runs("cron(0 23-1 ? * FRI *)", "2026-12-04T00:00Z", 3) == [
        "2026-12-04T01:00Z",
        "2026-12-04T23:00Z",
        "2026-12-11T00:00Z",
    ]
    assert runs("cron(0 0 1 JAN ? 2028/2)", "2026-12-04T00:00Z", 3) == [
        "2028-01-01T00:00Z",
        "2030-01-01T00:00Z",
        "2032-01-01T00:00Z",
    ]
    assert runs("cron(0 0 1 1 ? 2027)", "2027-06-01T00:00Z", 1) == []


def test_rates_count_from_an_anchor_or_bound_the_next_run() -> None:
    rate = parse("rate(5 minutes)")
    assert isinstance(rate, Rate)
    assert rate.interval == timedelta(minutes=5)
    anchor = at("2026-12-04T12:01:30Z")
    assert rate.next_runs(at("2026-12-04T12:07Z"), 2, anchor=anchor) == [
        at("2026-12-04T12:11:30Z"),
        at("2026-12-04T12:16:30Z"),
    ]
    assert rate.next_runs(at("2026-12-04T12:06:30Z"), 1, anchor=anchor) == [
        at("2026-12-04T12:11:30Z")
    ]
    # Without the rule's creation time, the answer is the latest the run can come.
    assert rate.next_runs(at("2026-12-04T12:07-05:00")) == [
        datetime(2026, 12, 4, 17, 12, tzinfo=UTC)
    ]
    one_day = parse("rate(1 day)")
    assert isinstance(one_day, Rate)
    assert one_day.interval == timedelta(days=1)


@pytest.mark.parametrize(
    "expression",
    [
        "rate(1 minutes)",
        "rate(5 minute)",
        "rate(0 minutes)",
        "rate(5 seconds)",
        "cron(0 5 * * *)",  # Unix's five fields
        "cron(0 5 * * * *)",  # no ? in either day field
        "cron(0 5 ? * ? *)",  # ? in both
        "cron(60 5 * * ? *)",
        "cron(0 24 * * ? *)",
        "cron(0 5 32 * ? *)",
        "cron(0 5 ? * 8 *)",
        "cron(0 5 ? * 0 *)",  # AWS's week is 1-7
        "cron(0 5 * 13 ? *)",
        "cron(0 5 * * ? 1969)",
        "cron(0 5 ? * 3#1,6#3 *)",  # only one # expression
        "cron(0 5 ? * 3#6 *)",
        "cron(0 5 L,15 * ? *)",
        "cron(0/0 5 * * ? *)",
        "every day",
        "",
    ],
)
def test_expressions_aws_refuses(expression: str) -> None:
    with pytest.raises(ScheduleError):
        parse(expression)


def test_naive_instants_are_refused() -> None:
    with pytest.raises(ScheduleError):
        parse("cron(0 5 * * ? *)").next_runs(datetime(2026, 12, 4, 12))
