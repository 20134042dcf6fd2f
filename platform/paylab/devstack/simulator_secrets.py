"""What `paylab up` hands the partner simulators from Secrets Manager (issue 6).

Each simulator checks the API key we present (`/_sim/api-keys`) and signs its callbacks to us
with a shared secret (`/_sim/config` `callback_secret`). Both values live only in the stack's
secrets; the simulators hold them in memory, so a restarted simulator is open (no key) and
signs with a random secret until the next `paylab up` pushes them again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import httpx

from paylab.core.partner_keys import PARTNERS, secret_output
from paylab.core.secrets import SecretReader

Progress = Callable[[str], None]

#: The partners that call us back (PSE confirmations, SMS delivery receipts).
CALLBACK_PARTNERS = ("pse", "sms")
GRACE_SECONDS = 900


def callback_secret_output(partner: str) -> str:
    """The stack output holding the ARN of `partner`'s callback signing secret."""
    if partner not in CALLBACK_PARTNERS:
        raise ValueError(f"{partner!r} sends no callbacks; choose one of {CALLBACK_PARTNERS}")
    return f"{partner.capitalize()}CallbackSecretArn"


def push_partner_secrets(
    stack_outputs: Mapping[str, str],
    ports: Mapping[str, int],
    progress: Progress,
    *,
    reader: SecretReader | None = None,
    http: httpx.Client | None = None,
) -> None:
    """Give each running simulator its API key and, when it calls us back, its signing secret."""
    reader = reader or SecretReader()
    client = http or httpx.Client(timeout=5.0)
    try:
        for partner in PARTNERS:
            key = reader.get_json(stack_outputs[secret_output(partner)])["api_key"]
            url = f"http://127.0.0.1:{ports[partner]}/_sim/api-keys"
            # Same key as before: a no-op; a new one (after `down`/`up`) keeps the old valid.
            answer = client.put(url, json={"key": key, "grace_seconds": GRACE_SECONDS})
            if answer.status_code == 404:  # a simulator from before issue 6 still runs
                progress(f"the {partner} simulator checks no API keys (restart it)")
                continue
            answer.raise_for_status()
        for partner in CALLBACK_PARTNERS:
            secret = reader.get_json(stack_outputs[callback_secret_output(partner)])
            body = {"callback_secret": secret["callback_secret"]}
            url = f"http://127.0.0.1:{ports[partner]}/_sim/config"
            client.patch(url, json=body).raise_for_status()
    finally:
        if http is None:
            client.close()
