"""DynamoDB via the paylab_moto provider: what Paylab relies on, direct and via CloudFormation."""

import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

TableFactory = Callable[[], str]


@pytest.fixture
def ddb(aws: Callable[[str], Any]) -> Any:
    return aws("dynamodb")


@pytest.fixture
def ledger_table(ddb: Any) -> Iterator[str]:
    """A table keyed by pk/sk with a GSI on merchant_id/created_at."""
    name = f"ledger-{uuid.uuid4().hex[:8]}"
    ddb.create_table(
        TableName=name,
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
            {"AttributeName": "merchant_id", "AttributeType": "S"},
            {"AttributeName": "created_at", "AttributeType": "N"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-merchant",
                "KeySchema": [
                    {"AttributeName": "merchant_id", "KeyType": "HASH"},
                    {"AttributeName": "created_at", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    ddb.get_waiter("table_exists").wait(TableName=name)
    yield name
    ddb.delete_table(TableName=name)


def _payment(pk: str, merchant: str, created_at: int, version: int = 1) -> dict[str, Any]:
    return {
        "pk": {"S": pk},
        "sk": {"S": "payment"},
        "merchant_id": {"S": merchant},
        "created_at": {"N": str(created_at)},
        "version": {"N": str(version)},
        "status": {"S": "PENDING"},
    }


def test_describe_table_shows_gsi(ddb: Any, ledger_table: str) -> None:
    table = ddb.describe_table(TableName=ledger_table)["Table"]

    assert table["TableStatus"] == "ACTIVE"
    assert [i["IndexName"] for i in table["GlobalSecondaryIndexes"]] == ["by-merchant"]


def test_conditional_put_rejects_duplicates(ddb: Any, ledger_table: str) -> None:
    item = _payment("pay-1", "m-1", 1)
    ddb.put_item(TableName=ledger_table, Item=item, ConditionExpression="attribute_not_exists(pk)")

    with pytest.raises(ddb.exceptions.ConditionalCheckFailedException):
        ddb.put_item(
            TableName=ledger_table, Item=item, ConditionExpression="attribute_not_exists(pk)"
        )


def test_optimistic_version_check(ddb: Any, ledger_table: str) -> None:
    ddb.put_item(TableName=ledger_table, Item=_payment("pay-2", "m-1", 2))
    key = {"pk": {"S": "pay-2"}, "sk": {"S": "payment"}}
    bump = {
        "TableName": ledger_table,
        "Key": key,
        "UpdateExpression": "SET #s = :s, version = :next",
        "ConditionExpression": "version = :expected",
        "ExpressionAttributeNames": {"#s": "status"},
        "ExpressionAttributeValues": {
            ":s": {"S": "APPROVED"},
            ":next": {"N": "2"},
            ":expected": {"N": "1"},
        },
        "ReturnValues": "ALL_NEW",
    }

    updated = ddb.update_item(**bump)["Attributes"]
    assert updated["status"] == {"S": "APPROVED"}
    with pytest.raises(ddb.exceptions.ConditionalCheckFailedException):
        ddb.update_item(**bump)  # stale version
    stored = ddb.get_item(TableName=ledger_table, Key=key, ConsistentRead=True)["Item"]
    assert stored["version"] == {"N": "2"}


def test_query_base_table_and_gsi(ddb: Any, ledger_table: str) -> None:
    for n, merchant in enumerate(["m-a", "m-b", "m-a"]):
        ddb.put_item(TableName=ledger_table, Item=_payment(f"pay-q{n}", merchant, 100 + n))

    base = ddb.query(
        TableName=ledger_table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "pay-q1"}},
    )
    by_merchant = ddb.query(
        TableName=ledger_table,
        IndexName="by-merchant",
        KeyConditionExpression="merchant_id = :m AND created_at >= :t",
        ExpressionAttributeValues={":m": {"S": "m-a"}, ":t": {"N": "100"}},
        ScanIndexForward=False,
    )

    assert [i["pk"]["S"] for i in base["Items"]] == ["pay-q1"]
    assert [i["pk"]["S"] for i in by_merchant["Items"]] == ["pay-q2", "pay-q0"]


def test_transact_write_items_is_all_or_nothing(ddb: Any, ledger_table: str) -> None:
    ddb.put_item(TableName=ledger_table, Item=_payment("pay-t0", "m-1", 1))
    new = {"Put": {"TableName": ledger_table, "Item": _payment("pay-t1", "m-1", 2)}}
    duplicate = {
        "Put": {
            "TableName": ledger_table,
            "Item": _payment("pay-t0", "m-1", 1),
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }

    with pytest.raises(ddb.exceptions.TransactionCanceledException):
        ddb.transact_write_items(TransactItems=[new, duplicate])
    assert "Item" not in ddb.get_item(
        TableName=ledger_table, Key={"pk": {"S": "pay-t1"}, "sk": {"S": "payment"}}
    )

    ddb.transact_write_items(TransactItems=[new])
    assert "Item" in ddb.get_item(
        TableName=ledger_table, Key={"pk": {"S": "pay-t1"}, "sk": {"S": "payment"}}
    )


def test_cloudformation_table(aws: Callable[[str], Any], ddb: Any) -> None:
    cfn = aws("cloudformation")
    stack = f"ddb-{uuid.uuid4().hex[:8]}"
    template = {
        "Resources": {
            "Idempotency": {
                "Type": "AWS::DynamoDB::Table",
                "Properties": {
                    "BillingMode": "PAY_PER_REQUEST",
                    "AttributeDefinitions": [
                        {"AttributeName": "id", "AttributeType": "S"},
                        {"AttributeName": "merchant_id", "AttributeType": "S"},
                    ],
                    "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
                    "GlobalSecondaryIndexes": [
                        {
                            "IndexName": "by-merchant",
                            "KeySchema": [{"AttributeName": "merchant_id", "KeyType": "HASH"}],
                            "Projection": {"ProjectionType": "KEYS_ONLY"},
                        }
                    ],
                    "TimeToLiveSpecification": {"AttributeName": "expires_at", "Enabled": True},
                    "StreamSpecification": {"StreamViewType": "NEW_IMAGE"},
                },
            }
        },
        "Outputs": {"TableName": {"Value": {"Ref": "Idempotency"}}},
    }

    cfn.create_stack(StackName=stack, TemplateBody=json.dumps(template))
    cfn.get_waiter("stack_create_complete").wait(StackName=stack, WaiterConfig={"Delay": 1})
    outputs = cfn.describe_stacks(StackName=stack)["Stacks"][0]["Outputs"]
    table_name = outputs[0]["OutputValue"]

    table = ddb.describe_table(TableName=table_name)["Table"]
    assert table["GlobalSecondaryIndexes"][0]["IndexName"] == "by-merchant"
    assert table["StreamSpecification"]["StreamEnabled"]
    ddb.put_item(
        TableName=table_name,
        Item={"id": {"S": "k"}},
        ConditionExpression="attribute_not_exists(id)",
    )

    cfn.delete_stack(StackName=stack)
    cfn.get_waiter("stack_delete_complete").wait(StackName=stack, WaiterConfig={"Delay": 1})
    assert table_name not in ddb.list_tables()["TableNames"]


def test_stream_records_via_dynamodbstreams(aws: Callable[[str], Any], ddb: Any) -> None:
    name = f"outbox-{uuid.uuid4().hex[:8]}"
    table = ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )["TableDescription"]
    ddb.put_item(TableName=name, Item={"id": {"S": "evt-1"}})
    streams = aws("dynamodbstreams")

    shard = streams.describe_stream(StreamArn=table["LatestStreamArn"])["StreamDescription"][
        "Shards"
    ][0]
    iterator = streams.get_shard_iterator(
        StreamArn=table["LatestStreamArn"],
        ShardId=shard["ShardId"],
        ShardIteratorType="TRIM_HORIZON",
    )["ShardIterator"]
    records = streams.get_records(ShardIterator=iterator)["Records"]

    assert [r["eventName"] for r in records] == ["INSERT"]
    assert records[0]["dynamodb"]["NewImage"] == {"id": {"S": "evt-1"}}
    ddb.delete_table(TableName=name)
