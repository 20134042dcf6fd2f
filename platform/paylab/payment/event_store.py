"""The payments' event store: one DynamoDB item per event, appends guarded by version."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from paylab.core.aws import client as aws_client
from paylab.payment.domain import EventRecord


class VersionConflict(Exception):
    """Another writer took one of the versions first: reload and decide again."""


class EventStore:
    """Append-only streams keyed by `stream_id` (the payment id) and `version` 1, 2, ..."""

    def __init__(self, table_name: str, client: Any = None) -> None:
        self.table_name = table_name
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = aws_client("dynamodb")
        return self._client

    def append(self, stream_id: str, events: Sequence[EventRecord]) -> None:
        """Write `events` (consecutive versions) all or nothing; VersionConflict if one is taken."""
        if not events:
            return
        items = [self._item(stream_id, e) for e in events]
        try:
            if len(items) == 1:
                self.client.put_item(
                    TableName=self.table_name,
                    Item=items[0],
                    ConditionExpression="attribute_not_exists(version)",
                )
            else:
                self.client.transact_write_items(
                    TransactItems=[
                        {
                            "Put": {
                                "TableName": self.table_name,
                                "Item": item,
                                "ConditionExpression": "attribute_not_exists(version)",
                            }
                        }
                        for item in items
                    ]
                )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("ConditionalCheckFailedException", "TransactionCanceledException"):
                raise VersionConflict(
                    f"stream {stream_id}: version {events[0].version} is already taken"
                ) from exc
            raise

    def load(self, stream_id: str, after_version: int = 0) -> list[EventRecord]:
        """The stream's events after `after_version`, in order (strongly consistent)."""
        events: list[EventRecord] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "stream_id = :s AND version > :v",
            "ExpressionAttributeValues": {
                ":s": {"S": stream_id},
                ":v": {"N": str(after_version)},
            },
            "ConsistentRead": True,
        }
        while True:
            page = self.client.query(**kwargs)
            events.extend(self._record(item) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return events
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    @staticmethod
    def _item(stream_id: str, event: EventRecord) -> dict[str, Any]:
        return {
            "stream_id": {"S": stream_id},
            "version": {"N": str(event.version)},
            "event_id": {"S": event.event_id},
            "type": {"S": event.type},
            "occurred_at": {"S": event.occurred_at.isoformat()},
            "correlation_id": {"S": event.correlation_id or "-"},
            # JSON text: amounts stay exact strings, no DynamoDB number conversions.
            "data": {"S": json.dumps(dict(event.data), separators=(",", ":"), sort_keys=True)},
        }

    @staticmethod
    def _record(item: dict[str, Any]) -> EventRecord:
        correlation = item.get("correlation_id", {}).get("S", "")
        return EventRecord(
            event_id=item["event_id"]["S"],
            type=item["type"]["S"],
            version=int(item["version"]["N"]),
            occurred_at=datetime.fromisoformat(item["occurred_at"]["S"]),
            data=json.loads(item["data"]["S"]),
            correlation_id="" if correlation == "-" else correlation,
        )
