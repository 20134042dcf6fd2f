"""One saga step: appends its name to the trail, or fails when the input says so."""


class PaymentDeclinedError(Exception):
    pass


def handler(event, context):
    step = event["step"]
    if event.get("fail_at") == step:
        raise PaymentDeclinedError(f"{step} failed for {event['payment_id']}")
    return {**event, "trail": [*event.get("trail", []), step]}
