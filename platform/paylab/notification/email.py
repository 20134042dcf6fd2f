"""Email through SES (boto3 via paylab.core.aws): one plain-text UTF-8 message per draft."""

from __future__ import annotations

import threading
from typing import Any

import structlog
from botocore.exceptions import BotoCoreError, ClientError

from paylab.core.aws import client
from paylab.notification.delivery import ProviderUnavailable, SendRejected
from paylab.notification.messages import Draft
from paylab.notification.settings import NotificationSettings

log = structlog.get_logger(__name__)

# SES error codes that condemn the message itself; any other error (throttling, an
# unverified sender, permissions, SES down) is ours or temporary and the event is retried.
PERMANENT = frozenset({"InvalidParameterValue", "ValidationError"})


class SesEmailSender:
    """Sends drafts with SES SendEmail; `ses` is any SES client (a stub in tests)."""

    def __init__(self, settings: NotificationSettings, ses: Any = None) -> None:
        self._settings = settings
        self._ses = ses
        self._verified = not settings.verify_sender
        self._lock = threading.Lock()

    def _client(self) -> Any:
        with self._lock:
            if self._ses is None:
                self._ses = client("ses")
            if not self._verified:
                # Idempotent: verifying a verified address changes nothing. LocalStack's
                # CloudFormation cannot create AWS::SES::EmailIdentity, so it happens here.
                self._ses.verify_email_identity(EmailAddress=self._settings.sender_email)
                self._verified = True
            return self._ses

    def send(self, draft: Draft, reference: str, *, maybe_sent: bool) -> str:
        """SES's message id; SES cannot be asked whether it already has `reference`."""
        try:
            response = self._client().send_email(
                Source=self._settings.sender_email,
                Destination={"ToAddresses": [draft.recipient]},
                Message={
                    "Subject": {"Data": draft.subject or "", "Charset": "UTF-8"},
                    "Body": {"Text": {"Data": draft.body, "Charset": "UTF-8"}},
                },
                Tags=[
                    {"Name": "notification_id", "Value": reference},
                    {"Name": "template", "Value": draft.template},
                ],
            )
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in PERMANENT:
                raise SendRejected(f"SES refused the email ({code}): {exc}") from exc
            raise ProviderUnavailable(f"SES did not send the email ({code}): {exc}") from exc
        except BotoCoreError as exc:
            raise ProviderUnavailable(f"SES is unreachable: {exc}") from exc
        if maybe_sent:
            log.info("email sent again after an unfinished attempt", notification_id=reference)
        return str(response["MessageId"])
