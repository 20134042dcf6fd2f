Feature: Antifraud review holds a payment for an operator's decision
  Antifraud answers "review" for amounts of COP 5,000,000.00 or more. The SAGA reserves the
  funds as the merchant's pending balance, then holds the payment (held, cod_respuesta 7)
  until an operator approves or rejects it on the gateway's operator route. Approved, it is
  charged and captured (a PSE payment's transfer is opened only then, once the SAGA waits
  for PSE); rejected, the funds are released and it ends rejected. After every scenario the
  ledger balances, no hold is left open, and the row equals the fold of its events.

  Background:
    Given a new merchant is logged in through the gateway

  Scenario: An operator approves a held card payment and it is captured
    When the merchant charges "6000000.00" COP to a card of its own
    Then the payment is held with cod_respuesta 7
    And the merchant's pending balance shows "6000000.00"
    And the card was not charged yet
    When an operator approves it with reason "known customer"
    Then the payment ends "approved" with cod_respuesta 1
    And the merchant's available balance grew by "6000000.00" less the platform fee
    And the card was charged "6000000.00"
    And a second decision is refused with 409 showing "approved" and "approve"
    And its events are "PaymentCreated, PaymentHeld, PaymentReviewed, PaymentProcessed, PaymentCompleted"
    And the execution went through "ReserveFunds, AwaitReview, ProcessPayment, CaptureFunds, Notify"
    And the books are clean

  Scenario: An operator rejects a held card payment and the funds are released
    When the merchant charges "6000000.00" COP to a card of its own
    Then the payment is held with cod_respuesta 7
    And the merchant's pending balance shows "6000000.00"
    When an operator rejects it with reason "stolen card"
    Then the payment ends "rejected" with cod_respuesta 2
    And its reason is "review-rejected"
    And the merchant's balances did not change
    And the card was not charged yet
    And a second decision is refused with 409 showing "rejected" and "reject"
    And its events are "PaymentCreated, PaymentHeld, PaymentReviewed, PaymentFailed"
    And the execution went through "ReserveFunds, AwaitReview, ReleaseFunds, Notify"
    And the books are clean

  Scenario: A held PSE payment opens its transfer only after an operator approves it
    When the merchant starts a PSE payment of "6000000.00" COP with bank "1007"
    Then the answer sends the payer to no bank page yet
    And the payment is held with cod_respuesta 7
    And the payment shows no bank page
    And PSE was not asked to open a transfer for it
    When an operator approves it with reason "known customer"
    Then the payment shows its bank page once the SAGA waits for PSE
    And PSE opened one transfer for it
    When the payer approves it at the bank's page
    Then the payment ends "approved" with cod_respuesta 1
    And the merchant's available balance grew by "6000000.00" less the platform fee
    And its events are "PaymentCreated, PaymentHeld, PaymentReviewed, PaymentTransferOpened, PaymentCompleted"
    And the execution went through "ReserveFunds, AwaitReview, AwaitPseConfirmation, CaptureFunds, Notify"
    And the books are clean

  Scenario: Without the operator key nobody can decide a held payment
    When the merchant charges "6000000.00" COP to a card of its own
    Then the payment is held with cod_respuesta 7
    And the merchant's own token cannot review it
    And the payment is still held with cod_respuesta 7
    When an operator rejects it with reason "cleanup"
    Then the payment ends "rejected" with cod_respuesta 2
    And the books are clean
