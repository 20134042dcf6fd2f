"""Weekly report (rule `weekly-report`, Mondays 01:00 Bogota): a CSV per merchant, mailed as a link.

For each active merchant (merchant service, a page at a time) the Lambda streams the payments
created in the previous Monday-Sunday, Bogota time (payment service, a page at a time), into
a temporary file, stores it at `reports/<merchant>/<ISO week>.csv` in the reports bucket (the
same key on a rerun, so it overwrites), and asks the merchant service to mail a presigned
link (`WeeklyReportReady`, once per merchant and week). Memory stays at one page whatever the
merchant's volume; the file goes to S3 as a multipart upload when it is large.

Environment: PAYLAB_MERCHANT_URL, PAYLAB_PAYMENT_URL, PAYLAB_INTERNAL_SECRET_ARN,
PAYLAB_REPORTS_BUCKET, PAYLAB_REPORT_LINK_SECONDS (default 7 days, SigV4's maximum).
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import IO, Any
from urllib.parse import quote, urlencode

import boto3

from paylab.lambdas._schedule import BOGOTA, business_date
from paylab.lambdas._services import call

COLUMNS = (
    "payment_id",
    "ref_payco",
    "reference",
    "description",
    "created_at",
    "method",
    "amount",
    "currency",
    "status",
    "cod_respuesta",
)
PAGE = 500
MAX_LINK_SECONDS = 7 * 86_400
# Spreadsheets run cells that start like a formula; merchants' own text must stay text.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Week:
    """A Monday-Sunday week in Bogota and its ISO label ("2026-W49")."""

    monday: date
    sunday: date

    @property
    def label(self) -> str:
        year, number, _ = self.monday.isocalendar()
        return f"{year}-W{number:02d}"

    def bounds(self) -> tuple[datetime, datetime]:
        """[start, end) of the week as UTC instants: Monday 00:00 to the next Monday 00:00."""
        start = datetime.combine(self.monday, time(0), BOGOTA)
        return start.astimezone(UTC), (start + timedelta(days=7)).astimezone(UTC)


def last_full_week(day: date) -> Week:
    """The latest Monday-Sunday week that ends on or before `day`."""
    sunday = day - timedelta(days=(day.weekday() + 1) % 7)
    return Week(sunday - timedelta(days=6), sunday)


def report_week(event: Mapping[str, Any]) -> Week:
    """The week a run reports: the one that ended by the business date (Sunday, on Mondays)."""
    return last_full_week(business_date(event))


def object_key(merchant_id: str, week: Week) -> str:
    """Where a merchant's report lives: the same key on every run for that week."""
    return f"reports/{quote(merchant_id, safe='')}/{week.label}.csv"


def cell(value: Any) -> str:
    """A CSV cell: text as is, except a leading formula character is neutralised with `'`."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def local_time(moment: str) -> str:
    """An ISO instant from the API as Bogota time ("2026-12-01T10:15:00-05:00")."""
    parsed = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    return parsed.astimezone(BOGOTA).isoformat(timespec="seconds")


def csv_row(payment: Mapping[str, Any]) -> list[str]:
    """One payment as a report row, in COLUMNS order."""
    return [
        cell(payment["id"]),
        cell(payment["ref_payco"]),
        cell(payment["reference"]),
        cell(payment["description"]),
        local_time(str(payment["created_at"])),
        cell(payment["method"]),
        cell(payment["amount"]),
        cell(payment["currency"]),
        cell(payment["status"]),
        str(payment["cod_respuesta"]),
    ]


def write_csv(out: IO[bytes], pages: Iterable[list[dict[str, Any]]]) -> int:
    """Write the header and every page's rows as UTF-8 CSV; returns the number of rows."""
    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
    writer = csv.writer(text)
    writer.writerow(COLUMNS)
    count = 0
    for page in pages:
        writer.writerows(csv_row(payment) for payment in page)
        count += len(page)
    text.detach()  # leave `out` open for the upload
    return count


def payment_pages(merchant_id: str, week: Week) -> Iterator[list[dict[str, Any]]]:
    """The merchant's payments of the week, one page at a time (never all in memory)."""
    start, end = week.bounds()
    after: str | None = None
    while True:
        query = {
            "merchant_id": merchant_id,
            "start": start.isoformat(),
            "end": end.isoformat(),
            "limit": PAGE,
        }
        if after:
            query["after"] = after
        page = call("payment", "GET", f"/internal/jobs/payments?{urlencode(query)}")
        yield list(page["items"])
        after = page.get("next_cursor")
        if not after:
            return


def merchants() -> Iterator[dict[str, Any]]:
    """Every active merchant, through the merchant service's pages."""
    after: str | None = None
    while True:
        query = {"limit": 200, **({"after": after} if after else {})}
        page = call("merchant", "GET", f"/internal/jobs/merchants?{urlencode(query)}")
        yield from page["items"]
        after = page.get("next_cursor")
        if not after:
            return


def report_one(s3: Any, bucket: str, merchant_id: str, week: Week) -> dict[str, Any]:
    """Build, store and announce one merchant's report; what was done."""
    key = object_key(merchant_id, week)
    with tempfile.TemporaryFile() as spool:
        rows = write_csv(spool, payment_pages(merchant_id, week))
        spool.seek(0)
        s3.upload_fileobj(
            spool,
            bucket,
            key,
            ExtraArgs={"ContentType": "text/csv; charset=utf-8"},
        )
    seconds = min(
        int(os.environ.get("PAYLAB_REPORT_LINK_SECONDS", MAX_LINK_SECONDS)), MAX_LINK_SECONDS
    )
    expires = datetime.now(UTC) + timedelta(seconds=seconds)
    url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=seconds
    )
    answer = call(
        "merchant",
        "POST",
        "/internal/jobs/weekly-reports",
        {
            "merchant_id": merchant_id,
            "week": week.label,
            "period_start": week.monday.isoformat(),
            "period_end": week.sunday.isoformat(),
            "payments": rows,
            "object_key": key,
            "url": url,
            "url_expires_at": expires.isoformat(),
        },
    )
    return {"merchant_id": merchant_id, "key": key, "rows": rows, "announced": answer["announced"]}


def handler(event: dict[str, Any], _context: Any, s3: Any = None) -> dict[str, Any]:
    """Report the week that ended by the event's business date, for every active merchant."""
    week = report_week(event)
    s3 = s3 or boto3.client("s3")
    bucket = os.environ["PAYLAB_REPORTS_BUCKET"]
    totals = {"reports": 0, "announced": 0, "rows": 0}
    failed: dict[str, str] = {}
    for merchant in merchants():
        try:
            done = report_one(s3, bucket, str(merchant["id"]), week)
        except Exception as exc:  # one merchant's failure must not stop the rest
            failed[str(merchant["id"])] = repr(exc)[:300]
            continue
        totals["reports"] += 1
        totals["announced"] += int(done["announced"])
        totals["rows"] += int(done["rows"])
    if failed:
        # The run fails so that EventBridge's retry (and an operator) sees it; a rerun
        # overwrites the stored CSVs and mails nothing twice.
        raise RuntimeError(
            f"weekly report {week.label}: {len(failed)} merchant(s) failed: {failed}"
        )
    return {"job": "weekly-report", "week": week.label, "bucket": bucket, **totals}
