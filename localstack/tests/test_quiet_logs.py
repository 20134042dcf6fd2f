"""quiet_logs.py: the serializer's "member which is not specified" warning, once per member."""

import logging
import uuid

from conftest import LocalStack, client
from paylab_localstack.quiet_logs import UNSPECIFIED_MEMBER, OncePerUnspecifiedMember


def _record(*args: object, msg: str = UNSPECIFIED_MEMBER) -> logging.LogRecord:
    return logging.LogRecord("s", logging.WARNING, __file__, 1, msg, args, None)


def test_the_filter_passes_each_pair_once_and_everything_else_always() -> None:
    once = OncePerUnspecifiedMember()
    assert once.filter(_record("Subscription", "RawMessageDelivery"))
    assert not once.filter(_record("Subscription", "RawMessageDelivery"))
    assert once.filter(_record("Subscription", "FilterPolicy"))
    assert once.filter(_record("Topic", "RawMessageDelivery"))
    other = "Something else about %s"
    assert once.filter(_record("x", msg=other)) and once.filter(_record("x", msg=other))


def test_listing_subscriptions_again_logs_no_new_warning(localstack: LocalStack) -> None:
    sns, sqs = client("sns"), client("sqs")
    topic = sns.create_topic(Name=f"t-quiet-{uuid.uuid4().hex[:8]}")["TopicArn"]
    queue = sqs.create_queue(QueueName=f"t-quiet-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)

    def warnings() -> list[str]:
        return [
            line
            for line in localstack.log_tail(10**7).splitlines()
            if "Response object Subscription contains a member which is not specified" in line
        ]

    # LocalStack 2026.3.0 lists its stored subscriptions as they are (RawMessageDelivery,
    # PendingConfirmation, ... are not in the spec's Subscription): the first listing warns.
    assert sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    first = warnings()
    assert first
    for _ in range(3):
        listed = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
        assert [s["Endpoint"] for s in listed] == [queue_arn]
    assert warnings() == first
    members = [line.rsplit(": ", 1)[-1] for line in first]
    assert len(members) == len(set(members))
