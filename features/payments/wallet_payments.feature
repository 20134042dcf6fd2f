Feature: Wallet payments hold the payer's own balance

  Background:
    Given a new merchant is logged in through the gateway

  Scenario: A payer with enough balance pays from the wallet
    Given a payer wallet with "100000.00" COP
    When the merchant charges "40000.00" COP to that wallet
    Then the payment ends "approved" with cod_respuesta 1
    And the wallet shows "60000.00" available and "0.00" held
    And the execution went through "ReserveFunds, ProcessPayment, CaptureFunds, Notify"
    And the books are clean

  Scenario: Insufficient funds: rejected, nothing held
    Given a payer wallet with "10000.00" COP
    When the merchant charges "40000.00" COP to that wallet
    Then the payment ends "rejected" with cod_respuesta 2
    And the wallet shows "10000.00" available and "0.00" held
    And the execution went through "ReserveFunds, Notify"
    And the books are clean
