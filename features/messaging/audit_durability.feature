Feature: The audit log misses no event of a payment, even when audit is down
  The audit log is where an auditor reads what happened to money: every event of a payment
  and of its ledger movements must be there once. An SNS push to a service that is down is
  lost (LocalStack does not retry it; on AWS SNS gives up after its retries), so audit reads
  every event it keeps from its own SQS FIFO queue, which holds them until audit is back.

  Background:
    Given a merchant logged in through the gateway

  Scenario: A payment made while audit is down is in the audit log once audit is back
    Given the audit service is stopped, and the queue consumers with it
    When the payer pays 11000.00 COP by card and the payment is approved
    Then none of the payment's events is in the audit log yet
    When the audit service and the queue consumers start again
    Then the audit log has each of the payment's events once: PaymentCreated, FundsReserved, FundsCaptured, PaymentCompleted
    And the audit log has the merchant's BalanceUpdated events of the payment once each
