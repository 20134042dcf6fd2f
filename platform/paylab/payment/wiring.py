"""The payment service's collaborators, built once per process from settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import redis
from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker

from paylab.core.db import service_engine, session_factory
from paylab.core.partner_keys import partner_auth
from paylab.core.settings import get_settings
from paylab.core.stack_outputs import StackOutputsUnavailable, output, stack_outputs
from paylab.payment.callback_signature import PSE_OUTPUT, CallbackSignature
from paylab.payment.event_store import EventStore
from paylab.payment.idempotency import RedisIdempotency
from paylab.payment.partners import (
    AntifraudClient,
    BankClient,
    PseClient,
    RetryPolicy,
    make_http_client,
)
from paylab.payment.repository import PaymentRepository
from paylab.payment.saga import Saga
from paylab.payment.settings import PaymentSettings
from paylab.payment.wallet_client import WalletClient

SAGA_OUTPUT = "PaymentSagaStateMachineArn"
EVENT_STORE_OUTPUT = "PaymentEventStoreTableName"


@dataclass
class Services:
    """Everything the use cases need; tests build it with their own settings."""

    settings: PaymentSettings
    sessions: sessionmaker[Session]
    repo: PaymentRepository
    idem: RedisIdempotency
    bank: BankClient
    pse: PseClient
    antifraud: AntifraudClient
    saga: Saga
    wallet: WalletClient
    pse_signature: CallbackSignature


def fresh_output(key: str) -> str:
    """A stack output, read again once when missing (the stack may have been updated since)."""
    try:
        return output(key)
    except StackOutputsUnavailable:
        stack_outputs(refresh=True)
        return output(key)


def build(settings: PaymentSettings) -> Services:
    """Connect to Postgres, Redis, DynamoDB, Step Functions and the partners."""
    sessions = session_factory(service_engine("payment", pool_size=10))
    table = settings.event_store_table or output(EVENT_STORE_OUTPUT)
    retry = RetryPolicy(settings.partner_attempts, settings.partner_backoff_s)
    configured_arn = settings.saga_state_machine_arn

    def saga_arn() -> str:
        return configured_arn or fresh_output(SAGA_OUTPUT)

    def pse_secret_id() -> str:
        return settings.pse_callback_secret_id or fresh_output(PSE_OUTPUT)

    return Services(
        settings=settings,
        sessions=sessions,
        repo=PaymentRepository(sessions, EventStore(table)),
        idem=RedisIdempotency(
            redis.Redis.from_url(get_settings().redis_dsn()),
            ttl_s=settings.idempotency_ttl_s,
            wait_s=settings.idempotency_wait_s,
        ),
        bank=BankClient(make_http_client(settings.bank_url, settings, partner_auth("bank")), retry),
        pse=PseClient(make_http_client(settings.pse_url, settings, partner_auth("pse")), retry),
        antifraud=AntifraudClient(
            make_http_client(settings.antifraud_url, settings, partner_auth("antifraud")), retry
        ),
        saga=Saga(saga_arn),
        wallet=WalletClient(make_http_client(settings.wallet_url, settings), retry),
        pse_signature=CallbackSignature(pse_secret_id),
    )


async def services(request: Request) -> Services:
    """FastAPI dependency: the process's collaborators, built on first use (not at import)."""
    svc: Services = await request.app.state.services.ready()
    return svc


Svc = Annotated[Services, Depends(services)]
