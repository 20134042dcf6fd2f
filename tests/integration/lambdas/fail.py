"""Raises a domain error, as a saga step does when the bank declines."""


class PaymentDeclinedError(Exception):
    pass


def handler(event, context):
    raise PaymentDeclinedError(f"declined: {event.get('reason', 'no reason')}")
