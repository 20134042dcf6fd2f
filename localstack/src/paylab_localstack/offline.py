"""Keep LocalStack off the network: patches for calls that would leave loopback.

Paylab's LocalStack runs with no DNS server of its own and no route out. An strace of start-up and
of SQS, SNS, Lambda, Step Functions and CloudFormation use found one lookup through the system
resolver; each such call is neutralised here, always (not a performance switch).
"""

import logging

from localstack.runtime import hooks

LOG = logging.getLogger(__name__)


def skip_s3_hostname_lookup() -> None:
    """Use LOCALHOST for internal S3 URLs instead of resolving `s3.<LOCALSTACK_HOST>` through DNS.

    `aws_stack.get_s3_hostname()` resolves `s3.127.0.0.1` once, on the first internal S3 client
    (e.g. storing Lambda code), and caches the answer in a module global. Without LocalStack's DNS
    server that name never resolves, so the answer is always "no": set it and skip the query,
    which otherwise goes to the system resolver (and waits for its timeout when offline).
    """
    from localstack.utils.aws import aws_stack

    aws_stack.CACHE_S3_HOSTNAME_DNS_STATUS = False


@hooks.on_infra_start(priority=100)
def paylab_offline_patches() -> None:
    """Apply the patches that keep LocalStack from resolving or connecting outside loopback."""
    skip_s3_hostname_lookup()
    LOG.debug("paylab offline patches applied")
