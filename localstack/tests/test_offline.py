"""offline.py: LocalStack never asks the system resolver for `s3.<LOCALSTACK_HOST>`."""

import socket

import pytest
from localstack import constants
from localstack.utils.aws import aws_stack

from paylab_localstack.offline import skip_s3_hostname_lookup


def test_internal_s3_urls_use_localhost_without_a_dns_lookup(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(aws_stack, "CACHE_S3_HOSTNAME_DNS_STATUS", None)
    lookups: list[str] = []

    def resolver(name: str) -> str:
        lookups.append(name)
        raise OSError("no DNS in this test")

    monkeypatch.setattr(socket, "gethostbyname", resolver)

    skip_s3_hostname_lookup()

    assert aws_stack.get_s3_hostname() == constants.LOCALHOST
    assert lookups == []
