Feature: A partner signs a merchant up through the public gateway
  Signup is public, like ePayco's web form: no token, an Idempotency-Key, and one answer with
  the merchant's API keys and its signature pair (p_cust_id_cliente, p_key). The merchant logs
  in with those keys, points its confirmation URL at its own endpoint (here the merchant-side
  receiver) and gets a signed confirmation of every payment. A retried signup registers one
  merchant; one merchant never sees or changes another's settings.

  Scenario: A new merchant signs up, logs in and receives a signed confirmation of its first payment
    Given a partner signs a merchant up through the gateway
    When the merchant logs in with the API keys from its signup
    And the merchant points its confirmation URL at the merchant-side receiver
    And the merchant charges "30000.00" COP to an approved card
    Then the payment ends "approved" with cod_respuesta 1
    And the receiver records exactly one confirmation of the payment with x_cod_response 1
    And its x_signature verifies with the merchant's p_key
    And the same confirmation with a tampered x_amount fails verification

  Scenario: A signup retried with the same Idempotency-Key registers one merchant
    When a partner sends the same signup 3 times with one Idempotency-Key
    Then every answer names the same merchant, and only the first one created it
    And only the API keys of the last answer log in
    And the merchant service announced MerchantRegistered once
    When the merchant logs in with the API keys from its signup
    And the partner sends the same signup once more
    Then the signup is refused with 409 "already-registered"
    And the same Idempotency-Key with another form is refused with 409 "idempotency-key-reused"

  Scenario: A merchant cannot see or change another merchant's settings
    Given two merchants signed up and logged in through the gateway
    When the second merchant reads and changes its settings claiming the first one's identity
    Then the second merchant saw and changed only its own settings
    And the first merchant's profile, confirmation URL and signature keys did not change
    And the first merchant's id in a path reveals nothing to the second merchant

  Scenario: A merchant changes its e-mail: the address it replaced is told, the new one masked
    Given a partner signs a merchant up through the gateway
    When the merchant logs in with the API keys from its signup
    And the merchant changes its e-mail through the gateway
    Then the previous address receives a notice naming the new address masked
    And the new address does not receive that notice
