Feature: Refunds move the money back through the bank and the wallet
  A refund of an approved payment is paid back from the merchant's available balance (the
  platform gives its fee back), reaches the card's clearing account or the payer's wallet, and
  reverses the payment (cod_respuesta 6). When the merchant's available balance cannot pay it,
  the refund is refused with a 409 and nothing moves anywhere: not at the bank, not in the
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
