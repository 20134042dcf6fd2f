Feature: Confirmation webhooks reach the merchant's endpoint, signed, exactly once
  Every payment outcome is POSTed to the merchant's confirmation URL in ePayco's format and
  signed with its p_key. An endpoint that fails is retried with growing gaps; after the last
  attempt WebhookFailed goes to the EventBridge bus, whose rule feeds the merchant-webhooks
  queue; the merchant consumer tries once more, and what still fails ends in the queue's DLQ,
  visible to `paylab dlq list`. Once the endpoint is back, a redrive delivers it exactly once.

  The stack's merchant service gives up after 6 attempts from 5 s (about 2.6 minutes); the
  scenario restarts it with a shorter schedule through the same settings (PAYLAB_MERCHANT_*),
  and restores it afterwards.

  Background:
    Given a merchant signed up through the gateway with its confirmation URL at the receiver

  Scenario: The endpoint is down; retries, WebhookFailed, the DLQ, a redrive, delivered once
    Given the merchant service gives up on a webhook after 3 attempts, 2 s apart and doubling
    And the merchant's endpoint answers 503
    When the merchant charges "21000.00" COP to an approved card
    Then the payment ends "approved" with cod_respuesta 1
    And the endpoint saw 3 attempts at the confirmation, each gap twice the one before
    And the merchant's webhook list shows the confirmation failed
    And the retry path tried it again until it landed in the merchant-webhooks DLQ with the endpoint's error
    And `paylab dlq list` counts it in the merchant-webhooks DLQ
    When the merchant's endpoint is back
    And an operator runs `paylab dlq redrive merchant-webhooks`
    Then the receiver records exactly one confirmation of the payment with x_cod_response 1
    And its x_signature verifies with the merchant's p_key
    And the merchant's webhook list shows the confirmation delivered

  Scenario: A declined payment is confirmed too, signed with the merchant's rotated p_key
    When the merchant rotates its p_key
    And the merchant charges "18000.00" COP to a card that the bank declines
    Then the payment ends "rejected" with cod_respuesta 2
    And the receiver records exactly one confirmation of the payment with x_cod_response 2
    And its x_signature verifies with the merchant's p_key
    And it does not verify with the p_key from before the rotation

  Scenario: The merchant service is down when a payment ends; its confirmation goes out once it is back
    Given the merchant service is stopped
    When the merchant charges "16000.00" COP to an approved card
    Then the payment ends "approved" with cod_respuesta 1
    And the confirmation waits, recorded, while the merchant service is down
    When the merchant service starts again
    Then the receiver records exactly one confirmation of the payment with x_cod_response 1
    And its x_signature verifies with the merchant's p_key
