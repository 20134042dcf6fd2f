Feature: PSE bank transfers wait for the bank's confirmation
  The SAGA waits for PSE's confirmation with a task token; duplicates and late confirmations
  cannot change an outcome, and silence abandons the payment and releases the hold.

  Background:
    Given a new merchant is logged in through the gateway

  Scenario: The payer approves at the bank
    When the merchant starts a PSE payment of "45000.00" COP with bank "1007"
    And the payer approves it at the bank's page
    Then the payment ends "approved" with cod_respuesta 1
    And the merchant's available balance grew by "45000.00" less the platform fee
    And the execution went through "ReserveFunds, AwaitPseConfirmation, CaptureFunds, Notify"
    And the books are clean

  Scenario: Nobody answers, the payment is abandoned and released
    Given an operator has this merchant's PSE payments wait 5 seconds at most
    When the merchant starts a PSE payment of "45000.00" COP with the bank that never answers
    Then the payment ends "abandoned" with cod_respuesta 10
    And the merchant's balances did not change
    And the execution went through "ReserveFunds, AwaitPseConfirmation, ReleaseFunds, Notify"
    And `paylab payments saga` shows "AwaitPseConfirmation" failing with "States.Timeout" until caught, then "ReleaseFunds"
    And the books are clean

  Scenario: Duplicate and out-of-order confirmations give one outcome
    Given PSE sends every confirmation of the payment twice
    When the merchant starts a PSE payment of "45000.00" COP with bank "1007"
    And the payer approves it at the bank's page
    And a late confirmation that PSE rejected the same transfer arrives
    Then the payment ends "approved" with cod_respuesta 1
    And the payment has exactly one final event
    And the execution went through "ReserveFunds, AwaitPseConfirmation, CaptureFunds, Notify"
    And the books are clean
