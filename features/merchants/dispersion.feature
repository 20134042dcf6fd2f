Feature: Every night at 00:00 Bogota each merchant's available balance is paid out, once
  The EventBridge rule `cron(0 5 * * ? *)` invokes the dispersion Lambda with a scheduled event;
  the Lambda works on the Bogota day that just ended and asks the merchant service to pay every
  merchant whose available balance reaches its minimum. The wallet is debited first, then the
  bank pays with the dispersion id as Idempotency-Key; a refusal gives the money back. Here
  "midnight happens" by invoking the stack's Lambda with the event EventBridge would send.
  Every scenario ends with the money check: what the bank paid equals what the ledger moved,
  and no dispersion was paid twice.

  Scenario: A merchant registers, sells, and is paid out at its first midnight
    Given a partner signs a merchant up with its confirmation URL at the merchant-side receiver
    And the merchant sets its payout account
    And the merchant receives an approved card payment of "120000.00" COP
    When midnight after the payment's business day happens in Bogota
    Then the merchant is paid its whole available balance once
    And the merchant's email receives the payout notice
    And the merchant's email was told of its new payout account
    And the receiver records the payout webhook with a valid signature
    And what the bank paid equals what the ledger moved, nothing paid twice

  Scenario: Dispersion is idempotent when midnight is fired twice
    Given a partner signs a merchant up with its confirmation URL at the merchant-side receiver
    And the merchant sets its payout account
    And the merchant receives an approved card payment of "80000.00" COP
    When midnight after the payment's business day happens in Bogota
    And the same midnight is fired again
    Then the second run reports the merchant already paid
    And the merchant is paid its whole available balance once
    And what the bank paid equals what the ledger moved, nothing paid twice

  Scenario: The bank rejects a payout; the next night pays it with the balance intact
    Given a partner signs a merchant up with its confirmation URL at the merchant-side receiver
    And the merchant sets its payout account
    And the merchant receives an approved card payment of "90000.00" COP
    And the bank will refuse the merchant's next payout
    When midnight after the payment's business day happens in Bogota
    Then the merchant's dispersion is rejected and its available balance is intact
    When midnight of the following day happens in Bogota
    Then the merchant is paid its whole available balance once
    And what the bank paid equals what the ledger moved, nothing paid twice
