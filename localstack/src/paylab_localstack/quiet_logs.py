"""Say a repeated LocalStack warning once: its serializer's "member which is not specified".

LocalStack's response serializer warns for every member of a response that the API's spec does
not have, on every response. Its own providers and moto leave such members in (SNS's
ListSubscriptionsByTopic, Secrets Manager's CreateSecret, DescribeSecret and RotateSecret), so
every `./paylab up` logged ~125 such lines, and every later call more: noise in front of the
lines that matter. The member is still dropped from the answer, as before; the warning is now
logged once per (shape, member) for the life of the process.
"""

import logging

from localstack.runtime import hooks

LOG = logging.getLogger(__name__)
SERIALIZER_LOGGER = "localstack.aws.protocol.serializer"
UNSPECIFIED_MEMBER = "Response object %s contains a member which is not specified: %s"


class OncePerUnspecifiedMember(logging.Filter):
    """Pass the first "not specified" warning for each (shape, member); drop the repeats."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[tuple[object, ...]] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        """True to log the record: anything but a repeat of an already logged pair."""
        if record.msg != UNSPECIFIED_MEMBER or not isinstance(record.args, tuple):
            return True
        key = tuple(str(arg) for arg in record.args)
        if key in self.seen:
            return False
        self.seen.add(key)
        record.msg += " (said once per process; see paylab_localstack.quiet_logs)"
        return True


def say_unspecified_members_once() -> None:
    """Install the filter on the serializer's logger (once, however often this is called)."""
    logger = logging.getLogger(SERIALIZER_LOGGER)
    if not any(isinstance(f, OncePerUnspecifiedMember) for f in logger.filters):
        logger.addFilter(OncePerUnspecifiedMember())


@hooks.on_infra_start(priority=100)
def paylab_quiet_logs() -> None:
    """Apply Paylab's log de-duplication."""
    say_unspecified_members_once()
    LOG.debug("paylab log de-duplication applied")
