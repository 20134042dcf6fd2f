"""DynamoDB as the payment event store uses it: optimistic appends and ordered reads."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from botocore.exceptions import ClientError

from .resources import AwsClients

EVENT_STORE_SCHEMA = {
    "AttributeDefinitions": [
        {"AttributeName": "stream_id", "AttributeType": "S"},
        {"AttributeName": "version", "AttributeType": "N"},
    ],
    "KeySchema": [
        {"AttributeName": "stream_id", "KeyType": "HASH"},
        {"AttributeName": "version", "KeyType": "RANGE"},
    ],
    "BillingMode": "PAY_PER_REQUEST",
}


@pytest.fixture
def event_store(dynamodb_create_table: Callable[..., str]) -> str:
    return dynamodb_create_table(**EVENT_STORE_SCHEMA)


def _append(aws: AwsClients, table: str, stream: str, version: int, event_type: str) -> None:
    aws.dynamodb.put_item(
        TableName=table,
        Item={
            "stream_id": {"S": stream},
            "version": {"N": str(version)},
            "type": {"S": event_type},
        },
        ConditionExpression="attribute_not_exists(version)",
        ReturnValuesOnConditionCheckFailure="ALL_OLD",
    )


def test_conditional_append_rejects_a_second_writer_of_the_same_version(
    aws: AwsClients, event_store: str
) -> None:
    _append(aws, event_store, "pay-1", 1, "PaymentCreated")
    _append(aws, event_store, "pay-1", 2, "PaymentCompleted")

    with pytest.raises(ClientError) as error:
        _append(aws, event_store, "pay-1", 2, "PaymentFailed")
    assert error.value.response["Error"]["Code"] == "ConditionalCheckFailedException"

    stored = aws.dynamodb.get_item(
        TableName=event_store,
        Key={"stream_id": {"S": "pay-1"}, "version": {"N": "2"}},
        ConsistentRead=True,
    )["Item"]
    assert stored["type"] == {"S": "PaymentCompleted"}, "the losing write changed nothing"
    # The same version in another stream is a different item.
    _append(aws, event_store, "pay-2", 2, "PaymentCreated")


def test_query_reads_one_stream_in_version_order(aws: AwsClients, event_store: str) -> None:
    # Written out of order and interleaved with another stream on purpose.
    for stream, version, event_type in [
        ("pay-1", 2, "PaymentCompleted"),
        ("pay-2", 1, "PaymentCreated"),
        ("pay-1", 1, "PaymentCreated"),
        ("pay-1", 10, "PaymentRefunded"),
        ("pay-1", 3, "PaymentCaptured"),
    ]:
        _append(aws, event_store, stream, version, event_type)

    def query(**extra: object) -> list[tuple[int, str]]:
        items = aws.dynamodb.query(
            TableName=event_store,
            KeyConditionExpression="stream_id = :s AND version > :after",
            ExpressionAttributeValues={":s": {"S": "pay-1"}, ":after": {"N": "1"}},
            ConsistentRead=True,
            **extra,
        )["Items"]
        return [(int(i["version"]["N"]), i["type"]["S"]) for i in items]

    assert query() == [(2, "PaymentCompleted"), (3, "PaymentCaptured"), (10, "PaymentRefunded")]
    # The newest event: what a writer reads to pick the next version.
    assert query(ScanIndexForward=False, Limit=1) == [(10, "PaymentRefunded")]
