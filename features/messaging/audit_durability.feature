Feature: The audit log misses no event of a payment, even when the audit service is down
  The audit log is where an auditor reads what happened to money: every event of a payment
  and of its ledger movements must be there once. SNS pushes to a service that is down are
  lost (locally LocalStack does not retry them; on AWS SNS gives up after its retries), so
  audit reads every event it must not miss from its own SQS FIFO queue, which waits for it.

  Background:
    Given a merchant logged in through the gateway

  Scenario: A payment made while the audit service is down is in the audit log once it is back
    Given the audit service is stopped
    When the payer pays 11000.00 COP by card and the payment is approved
    And the audit service starts again
    Then the audit log has each of the payment's events once: PaymentCreated, FundsReserved, FundsCaptured, PaymentCompleted
    And the audit log has the merchant's BalanceUpdated events of the payment once each
