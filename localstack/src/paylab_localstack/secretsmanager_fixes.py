"""Fixes for LocalStack Secrets Manager behaviour that differs from AWS in ways Paylab meets."""

import logging
from collections.abc import Callable
from typing import Any

from localstack.runtime import hooks

LOG = logging.getLogger(__name__)


def registering_a_rotation_schedule_answers() -> None:
    """RotateSecret with RotateImmediately=False answers 200, as on AWS.

    LocalStack 2026.3.0 stores the function and the schedule, then builds its answer from a
    `new_version_id` it only sets when rotating at once: every registration answered
    InternalError and logged a traceback (`./paylab up` registers the template's schedules this
    way on each start). The answer is now the secret's ARN and name; anything
    else that fails fails as before.
    """
    # LocalStack's provider module patches the same method when imported: import it first, so
    # this wraps its version (patches applied later wrap the earlier ones).
    import localstack.services.secretsmanager.provider  # noqa: F401
    from localstack.utils.patch import patch
    from moto.secretsmanager.models import SecretsManagerBackend

    @patch(SecretsManagerBackend.rotate_secret)
    def rotate_secret(
        fn: Callable[..., Any],
        self: SecretsManagerBackend,
        secret_id: str,
        client_request_token: str | None = None,
        rotation_lambda_arn: str | None = None,
        rotation_rules: dict[str, Any] | None = None,
        rotate_immediately: bool = True,
    ) -> Any:
        try:
            return fn(
                self,
                secret_id,
                client_request_token,
                rotation_lambda_arn,
                rotation_rules,
                rotate_immediately,
            )
        except UnboundLocalError as exc:
            if rotate_immediately or "new_version_id" not in str(exc):
                raise
        # The JSON body moto's response handler sends: ARN and Name (no new version was made).
        return self.secrets[secret_id].to_short_dict(include_version_id=False)


@hooks.on_infra_start(priority=100)
def paylab_secretsmanager_fixes() -> None:
    """Apply Paylab's Secrets Manager conformance fixes."""
    registering_a_rotation_schedule_answers()
    LOG.debug("paylab Secrets Manager fixes applied")
