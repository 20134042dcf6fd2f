"""DynamoDB and DynamoDB Streams providers served entirely by LocalStack's bundled moto.

LocalStack's own DynamoDB provider forwards to DynamoDB Local, which it downloads (with a Java
runtime) on first use; that fails offline. Every operation here raises NotImplementedError in the
generated API base class, so LocalStack's MotoFallbackDispatcher hands it to moto in-process.
"""

from abc import ABC

from localstack.aws.api.dynamodb import DynamodbApi
from localstack.aws.api.dynamodbstreams import DynamodbstreamsApi
from localstack.services.plugins import Service, ServiceLifecycleHook, aws_provider
from localstack.state import StateVisitor


class MotoDynamoDBProvider(DynamodbApi, ServiceLifecycleHook, ABC):
    """DynamoDB API with no overrides: moto answers every call."""

    def accept_state_visitor(self, visitor: StateVisitor) -> None:
        """Expose moto's backend so LocalStack persistence and state reset see the tables."""
        from moto.dynamodb.models import dynamodb_backends

        visitor.visit(dynamodb_backends)


class MotoDynamoDBStreamsProvider(DynamodbstreamsApi, ServiceLifecycleHook, ABC):
    """DynamoDB Streams API on moto, reading the streams of moto's tables above."""

    def accept_state_visitor(self, visitor: StateVisitor) -> None:
        """Expose moto's streams backend to LocalStack's state visitors."""
        from moto.dynamodbstreams.models import dynamodbstreams_backends

        visitor.visit(dynamodbstreams_backends)


@aws_provider(api="dynamodb", name="paylab_moto")
def dynamodb_paylab_moto() -> Service:
    """Create the DynamoDB service (PROVIDER_OVERRIDE_DYNAMODB=paylab_moto)."""
    from localstack.services.moto import MotoFallbackDispatcher

    return Service.for_provider(
        MotoDynamoDBProvider(), dispatch_table_factory=MotoFallbackDispatcher
    )


@aws_provider(api="dynamodbstreams", name="paylab_moto")
def dynamodbstreams_paylab_moto() -> Service:
    """Create the DynamoDB Streams service (PROVIDER_OVERRIDE_DYNAMODBSTREAMS=paylab_moto)."""
    from localstack.services.moto import MotoFallbackDispatcher

    return Service.for_provider(
        MotoDynamoDBStreamsProvider(), dispatch_table_factory=MotoFallbackDispatcher
    )
