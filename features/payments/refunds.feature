Feature: Refunds move the money back through the bank and the wallet
  A refund of an approved payment is paid back from the merchant's available balance (the
  platform gives its fee back), reaches the card's clearing account or the payer's wallet, and
  reverses the payment (cod_respuesta 6). A refund may also be of part of the payment, once
  per Idempotency-Key: the payment stays approved until its refunds add up to its amount.
  When the merchant's available balance cannot pay a refund, or it is more than is left to
  refund, it is refused with a 409 and nothing moves anywhere: not at the bank, not in the
  ledger.

  Background:
    Given a new merchant is logged in through the gateway

  Scenario: A refunded card payment puts payer, merchant and clearing back where they were
    Given a payer card of its own
    And an approved card payment of "20000.00" COP on that card
    When the merchant refunds it
    Then the payment is "reversed" with cod_respuesta 6
    And the card's balance at the bank is back where it was
    And the merchant's balances did not change
    And the payment left nothing on the card clearing account nor the fee account
    And the books are clean

  Scenario: A refunded wallet payment gives the payer its balance back
    Given a payer wallet with "100000.00" COP
    And an approved payment of "40000.00" COP from that wallet
    When the merchant refunds it
    Then the payment is "reversed" with cod_respuesta 6
    And the wallet shows "100000.00" available and "0.00" held
    And the merchant's balances did not change
    And the books are clean

  Scenario: A refund larger than the merchant's available balance is refused, nothing moves
    Given a payer card of its own
    And an approved card payment of "20000.00" COP on that card
    And the merchant has paid out its whole available balance
    When the merchant refunds it
    Then the refund is refused with 409 "insufficient-funds"
    And the payment is still "approved" with cod_respuesta 1
    And the merchant's balances did not change
    And the card's balance at the bank still shows the payment
    And the books are clean

  Scenario: Partial refunds of a card payment, one per key, add up to its reversal
    Given a payer card of its own
    And an approved card payment of "20000.00" COP on that card
    When the merchant refunds "5000.00" of it with Idempotency-Key "first"
    Then the payment is "approved" with "5000.00" refunded
    And the card's balance at the bank is "15000.00" below where it was
    When the merchant refunds "5000.00" of it with Idempotency-Key "first"
    Then the payment is "approved" with "5000.00" refunded
    And the card's balance at the bank is "15000.00" below where it was
    When the merchant refunds "5000.00" of it with Idempotency-Key "second"
    Then the payment is "approved" with "10000.00" refunded
    When the merchant refunds it
    Then the payment is "reversed" with "20000.00" refunded
    And the card's balance at the bank is back where it was
    And the merchant's balances did not change
    And the payment left nothing on the card clearing account nor the fee account
    And the books are clean

  Scenario: A partial refund of more than is left, or without a key, is refused, nothing moves
    Given a payer wallet with "100000.00" COP
    And an approved payment of "40000.00" COP from that wallet
    When the merchant refunds "30000.00" of it with Idempotency-Key "first"
    Then the payment is "approved" with "30000.00" refunded
    When the merchant refunds "10000.01" of it with Idempotency-Key "second"
    Then the refund is refused with 409 "refund-exceeds-payment"
    When the merchant refunds "100.00" of it without an Idempotency-Key
    Then the refund is refused with 400 "idempotency-key-required"
    When the merchant refunds "100.00" of it with Idempotency-Key "first"
    Then the refund is refused with 409 "idempotency-key-reused"
    And the payment is still "approved" with cod_respuesta 1
    And the wallet shows "90000.00" available and "0.00" held
    And the books are clean
