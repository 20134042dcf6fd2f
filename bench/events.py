"""The event backbone on the local stack: raw SNS → SQS, the outbox relay, consumers, idle cost.

    ./paylab up
    .venv/bin/python bench/events.py [--events 2000] [--publishers 1,4] [--idle-seconds 30]
        [--consumer-events 100] [--consumer-rate 20] [--parts raw,relay,consumers,idle]

- **raw** (the reference ceiling): a throwaway standard topic with a throwaway queue subscribed
  (raw delivery); N real-sized events are sent with PublishBatch (10 per call) from 1 and 4
  publisher threads while 2 receiver threads long-poll, receive and delete them.
  Rate = N / (first publish → last arrival); lag = publish → arrival.
- **relay**: the same topic and queue, fed by `paylab.core.outbox_relay` (its own code, in this
  process) from a throwaway copy of `auth.outbox` (so the running relay never sees the rows):
  *drain* inserts N rows first and times the relay from its start to the last arrival (its
  capacity, with 1 lane and with the default 4); *half rate* inserts at half the best raw
  rate, every 20 ms, while the relay runs, and reports the lag from commit to arrival.
- **consumers**: events written with `outbox.add_event` to `payment.outbox` (destination
  `sqs:audit-ops` only) go through the stack's relay and an audit consumer worker to
  `audit.events`: a burst (throughput) and a paced run (`--consumer-rate`, lag from commit
  to row). The worker is the stack's if one runs, else `python -m paylab.core.consumer audit`
  started here and stopped by PID. Skipped, with the reason, when the consumers or the audit
  schema are not there yet.
- **idle**: LocalStack's CPU (its own process, from `.paylab/run/localstack.json`) over
  `--idle-seconds`, in % of one core, while that worker long-polls empty queues; other pytest
  or bench processes running at the time are listed, as they load LocalStack too.

Goals (issue 5): relay ≥ 0.8x the raw rate, p99 lag < 1 s at half rate, idle < 2% of a core.
Loopback only, bounded in count and time, prints numbers, asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil
from sqlalchemy import Engine, text

from paylab.core.aws import client
from paylab.core.db import service_engine, session_factory, unit_of_work
from paylab.core.events import Envelope
from paylab.core.outbox import add_event
from paylab.core.outbox_relay import OutboxRelay
from paylab.core.publishers import BATCH, Publisher
from paylab.core.relay_loop import serve

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = "auth"  # any schema its role owns: the relay part uses a private copy of its outbox
TICK = 0.02  # the half-rate inserter's period
WAIT_LIMIT = 120.0  # no run waits longer than this for its last event


def sample_event() -> dict[str, Any]:
    """A PaymentCreated envelope of real size and shape, with fresh ids."""
    payment_id = str(uuid.uuid4())
    return {
        "id": str(uuid.uuid4()),
        "type": "PaymentCreated",
        "version": 1,
        "occurred_at": "2026-12-04T19:32:39.141537Z",
        "source": "paylab.payment",
        "subject_id": payment_id,
        "correlation_id": str(uuid.uuid4()),
        "data": {
            "payment_id": payment_id,
            "merchant_id": "bench-events",
            "ref_payco": "100000109",
            "reference": "order-797e8b004ca2",
            "method": "card",
            "amount": "40000.00",
            "currency": "COP",
            "status": "pending",
            "cod_respuesta": 3,
        },
    }


class Sink:
    """A throwaway topic and queue; receiver threads record when each event id arrives."""

    def __init__(self, topic: str, queue_url: str, receivers: int = 2) -> None:
        self.topic, self.queue_url = topic, queue_url
        self.sent: dict[str, float] = {}
        self.arrived: dict[str, float] = {}
        self.expected: set[str] = set()
        self.done = threading.Event()
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.sqs = client("sqs")
        self.threads = [
            threading.Thread(target=self._receive, daemon=True) for _ in range(receivers)
        ]
        for thread in self.threads:
            thread.start()

    @classmethod
    @contextmanager
    def create(cls) -> Iterator[tuple[Sink, str]]:
        """Create the topic, the queue and the raw-delivery subscription; delete them after."""
        sns, sqs = client("sns"), client("sqs")
        name = f"paylab-bench-events-{uuid.uuid4().hex[:8]}"
        topic = sns.create_topic(Name=name)["TopicArn"]
        url = sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        sns.subscribe(
            TopicArn=topic,
            Protocol="sqs",
            Endpoint=arn["Attributes"]["QueueArn"],
            Attributes={"RawMessageDelivery": "true"},
        )
        sink = cls(topic, url)
        try:
            yield sink, topic
        finally:
            sink.stop.set()
            for thread in sink.threads:
                thread.join(timeout=25)
            sns.delete_topic(TopicArn=topic)
            sqs.delete_queue(QueueUrl=url)

    def _receive(self) -> None:
        while not self.stop.is_set():
            got = self.sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=2
            ).get("Messages", [])
            now = time.monotonic()
            if not got:
                continue
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)
                ],
            )
            with self.lock:
                for message in got:
                    self.arrived.setdefault(json.loads(message["Body"])["id"], now)
                if self.expected and self.expected <= self.arrived.keys():
                    self.done.set()

    def expect(self, ids: set[str]) -> None:
        """Start a run: forget earlier arrivals, wait for these ids."""
        with self.lock:
            self.sent.clear()
            self.arrived.clear()
            self.expected = set(ids)
            self.done.clear()

    def wait(self) -> float:
        """The monotonic time of the last expected arrival (or of giving up)."""
        if not self.done.wait(WAIT_LIMIT):
            missing = len(self.expected - self.arrived.keys())
            print(f"  !! {missing} of {len(self.expected)} events did not arrive in {WAIT_LIMIT} s")
        with self.lock:
            return max((self.arrived[i] for i in self.expected if i in self.arrived), default=0.0)

    def lags(self) -> list[float]:
        """Seconds from sent (or committed) to arrival, per expected event."""
        with self.lock:
            return [self.arrived[i] - self.sent[i] for i in self.expected if i in self.arrived]


def pct(values: list[float], q: float) -> float:
    """The q-quantile in ms (nearest rank), NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return 1000 * ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def report(name: str, n: int, seconds: float, lags: list[float], ceiling: float | None) -> float:
    """Print one line: rate, lag percentiles if measured, the ratio to the raw ceiling if given."""
    rate = n / seconds if seconds else 0.0
    lag = f"   lag p50 {pct(lags, 0.5):6.0f} ms  p99 {pct(lags, 0.99):6.0f} ms" if lags else ""
    ratio = f"   {rate / ceiling:.2f}x raw" if ceiling else ""
    print(f"  {name:<26} {n:>6} events in {seconds:6.2f} s = {rate:7.1f}/s{lag}{ratio}")
    return rate


def raw(sink: Sink, topic: str, n: int, publishers: int) -> float:
    """PublishBatch from `publishers` threads; returns events/s to the last arrival."""
    sns = client("sns")
    events = [sample_event() for _ in range(n)]
    batches = iter([events[i : i + BATCH] for i in range(0, n, BATCH)])
    lock = threading.Lock()
    sink.expect({e["id"] for e in events})
    started = time.monotonic()

    def publish() -> None:
        while True:
            with lock:
                batch = next(batches, None)
            if batch is None:
                return
            sent = time.monotonic()
            for event in batch:
                sink.sent[event["id"]] = sent
            sns.publish_batch(
                TopicArn=topic,
                PublishBatchRequestEntries=[
                    {
                        "Id": str(i),
                        "Message": json.dumps(e, separators=(",", ":"), sort_keys=True),
                        # The relay's message attribute too: the same messages, like for like.
                        "MessageAttributes": {
                            "type": {"DataType": "String", "StringValue": e["type"]}
                        },
                    }
                    for i, e in enumerate(batch)
                ],
            )

    threads = [threading.Thread(target=publish) for _ in range(publishers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    last = sink.wait()
    return report(f"raw, {publishers} publisher(s)", n, last - started, sink.lags(), None)


@contextmanager
def bench_outbox(engine: Engine) -> Iterator[str]:
    """A throwaway outbox table shaped like the real one; dropped afterwards."""
    name = f"outbox_bench_{uuid.uuid4().hex[:8]}"
    with engine.begin() as conn:
        conn.execute(text(f"CREATE TABLE {SCHEMA}.{name} (LIKE {SCHEMA}.outbox INCLUDING ALL)"))
    try:
        yield name
    finally:
        with engine.begin() as conn:
            conn.execute(text(f"DROP TABLE {SCHEMA}.{name}"))


def insert(engine: Engine, relay: OutboxRelay, events: list[dict[str, Any]], sink: Sink) -> None:
    """Write outbox rows in one transaction and wake the relay, as add_event does."""
    with engine.begin() as conn:
        conn.execute(
            text(
                f"INSERT INTO {relay.table} (id, aggregate_id, event_type, payload, destinations)"
                " VALUES (CAST(:id AS uuid), :agg, :type, CAST(:payload AS jsonb), :dest)"
            ),
            [
                {
                    "id": e["id"],
                    "agg": e["subject_id"],
                    "type": e["type"],
                    "payload": json.dumps(e),
                    "dest": ["sns:payment-events"],
                }
                for e in events
            ],
        )
        conn.execute(text("SELECT pg_notify(:c, '')"), {"c": relay.channel})
    committed = time.monotonic()
    for event in events:
        sink.sent[event["id"]] = committed


@contextmanager
def running(relay: OutboxRelay, engine: Engine) -> Iterator[None]:
    """The relay's own serve loop in a thread, stopped at the end."""
    stop = threading.Event()
    dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    thread = threading.Thread(target=serve, args=(relay, dsn, stop), daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=10)


def relay_part(sink: Sink, topic: str, n: int, ceiling: float) -> None:
    """The relay's drain capacity, then its lag at half the raw rate."""
    engine = service_engine(SCHEMA, pool_size=2)
    with bench_outbox(engine) as table:
        publisher = Publisher(targets={"sns:payment-events": topic})
        for lanes in (1, 4):  # 4 is the relay's default; 1 shows what the lanes bring
            relay = OutboxRelay(engine, SCHEMA, publisher, table=table, lanes=lanes)
            events = [sample_event() for _ in range(n)]
            sink.expect({e["id"] for e in events})
            for start in range(0, n, 500):
                insert(engine, relay, events[start : start + 500], sink)
            started = time.monotonic()
            with running(relay, engine):
                last = sink.wait()
            report(f"relay, drain, {lanes} lane(s)", n, last - started, [], ceiling)

        rate = ceiling / 2
        events = [sample_event() for _ in range(n)]
        sink.expect({e["id"] for e in events})
        with running(relay, engine):
            started = time.monotonic()
            done = 0
            while done < n:
                due = min(n, int((time.monotonic() - started) * rate) + 1)
                if due > done:
                    insert(engine, relay, events[done:due], sink)
                    done = due
                time.sleep(TICK)
            last = sink.wait()
        report(f"relay, half rate ({rate:.0f}/s)", n, last - started, sink.lags(), None)
    engine.dispose()


@contextmanager
def consumer_worker() -> Iterator[str]:
    """A running `paylab.core.consumer` worker, or one started here and stopped by PID after."""
    for proc in psutil.process_iter(["cmdline"]):
        if "paylab.core.consumer" in " ".join(proc.info["cmdline"] or []):
            yield f"the stack's (PID {proc.pid})"
            return
    with (ROOT / ".paylab" / "logs" / "bench-consumer.log").open("ab") as log:
        worker = psutil.Popen(
            [str(ROOT / ".venv" / "bin" / "python"), "-m", "paylab.core.consumer", "audit"],
            stdout=log,
            stderr=log,
            cwd=ROOT,
        )
    try:
        yield f"started here (PID {worker.pid})"
    finally:
        worker.terminate()
        worker.wait(timeout=15)


def consumers_missing() -> str | None:
    """Why the consumer part cannot run, or None when it can."""
    try:
        import paylab.audit.consumers
        import paylab.core.consumer  # noqa: F401  (both must exist)
    except ImportError as missing:
        return f"the consumers are not there yet ({missing})"
    with service_engine("audit", pool_size=1).connect() as conn:
        if conn.execute(text("SELECT to_regclass('audit.events')")).scalar() is None:
            return "audit.events does not exist (migrations not applied)"
    return None


def consumers_part(n: int, rate: float | None) -> None:
    """From add_event's commit to the audit row, through the stack's relay and a consumer."""
    audit = service_engine("audit", pool_size=1)
    sessions = session_factory(service_engine("payment", pool_size=1))
    sent: dict[str, float] = {}
    arrived: dict[str, float] = {}
    sending = threading.Event()
    sending.set()

    def watch() -> None:  # polls while the events are written, so lags are not inflated
        deadline = time.monotonic() + WAIT_LIMIT
        while (sending.is_set() or len(arrived) < n) and time.monotonic() < deadline:
            waiting = [i for i in list(sent) if i not in arrived]
            if waiting:
                with audit.connect() as conn:
                    rows = conn.execute(
                        text("SELECT event_id FROM audit.events WHERE event_id = ANY(:ids)"),
                        {"ids": waiting},
                    ).scalars()
                    now = time.monotonic()
                    arrived.update({i: now for i in rows})
            time.sleep(0.01)

    watcher = threading.Thread(target=watch)
    watcher.start()
    started = time.monotonic()
    for i in range(n):
        if rate:  # paced: event i is due at i / rate
            time.sleep(max(0.0, started + i / rate - time.monotonic()))
        event = Envelope.model_validate(sample_event())
        event.type = "PaymentNotificationRequested"
        event.data |= {"status": "approved", "cod_respuesta": 1, "reason": None}
        event.data |= {"event_type": "PaymentCompleted", "customer_email": None}
        with unit_of_work(sessions) as session:
            add_event(session, "payment", event, ["sqs:audit-ops"])
        sent[event.id] = time.monotonic()
    sending.clear()
    watcher.join()
    lags = [arrived[i] - sent[i] for i in arrived]
    name = f"paced {rate:.0f}/s" if rate else "burst"
    report(
        f"{name} → audit row",
        len(arrived),
        max(arrived.values(), default=started) - started,
        lags,
        None,
    )
    if len(arrived) < n:
        print(f"  !! {n - len(arrived)} events never reached audit.events")


def localstack_cpu(seconds: float) -> float:
    """LocalStack's own CPU over `seconds`, in % of one core."""
    run = json.loads((ROOT / ".paylab" / "run" / "localstack.json").read_text())
    localstack = psutil.Process(int(run["pid"]))
    before, began = localstack.cpu_times(), time.monotonic()
    time.sleep(seconds)
    after = localstack.cpu_times()
    used = (after.user + after.system) - (before.user + before.system)
    return 100 * used / (time.monotonic() - began)


def noise() -> list[str]:
    """Other test or benchmark processes: they load LocalStack too."""
    me = psutil.Process().pid
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = proc.info["cmdline"] or []
        if proc.pid != me and any(w in " ".join(cmdline) for w in ("pytest", "bench/")):
            found.append(" ".join(cmdline[1:4]))
    return found


def main() -> None:
    """Run the parts asked for and print their numbers."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--publishers", default="1,4")
    parser.add_argument("--consumer-events", type=int, default=100)
    parser.add_argument("--consumer-rate", type=float, default=20.0)
    parser.add_argument("--idle-seconds", type=float, default=30.0)
    parser.add_argument("--parts", default="raw,relay,consumers,idle")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    n = max(BATCH, min(args.events, 20000))
    print(f"bench/events.py: {n} events per run, payload {len(json.dumps(sample_event()))} B")
    if parts & {"raw", "relay"}:
        with Sink.create() as (sink, topic):
            print("raw SNS PublishBatch → SQS (the ceiling):")
            rates = [raw(sink, topic, n, int(p)) for p in args.publishers.split(",")]
            if "relay" in parts:
                print(f"outbox relay → SNS → SQS (ceiling {max(rates):.1f}/s):")
                relay_part(sink, topic, n, max(rates))
    if not parts & {"consumers", "idle"}:
        return
    missing = consumers_missing()
    if missing:
        print(f"consumers and idle: skipped: {missing}")
        return
    with consumer_worker() as worker:
        print(f"consumers (worker {worker}): outbox → relay → audit-ops → audit.events:")
        if "consumers" in parts:
            m = min(args.consumer_events, 1000)
            consumers_part(m, None)
            consumers_part(m, args.consumer_rate)
        if "idle" in parts:
            cpu = localstack_cpu(args.idle_seconds)
            print(f"  idle: LocalStack CPU {cpu:.2f}% of a core over {args.idle_seconds:.0f} s")
            others = noise()
            if others:
                print(f"  (noise: {len(others)} other test/bench processes: {others[:3]})")


if __name__ == "__main__":
    main()
