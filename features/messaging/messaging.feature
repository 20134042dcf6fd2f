Feature: Events reach notification and audit exactly once, whatever fails on the way
  Payment outcomes travel through the outbox to SNS and to the SQS FIFO queues that the
  notification and audit consumers poll. A consumer that keeps failing leaves the message
  in its queue's DLQ with the reason; the DLQ reprocessor sends it back once the cause is
  fixed, and parks what keeps failing. Nothing is lost and nothing happens twice.

  Background:
    Given a merchant logged in through the gateway

  Scenario: The SMS provider is down, the message is dead-lettered, then redriven once it is back
    Given the SMS provider answers 503 to the payer's phone
    When the payer pays 25000.00 COP by card and the payment is approved
    Then the payment's notification lands in the notification-ops DLQ with an SMS error
    And exactly one receipt email was sent for the payment
    When the SMS provider is back
    And an operator redrives notification-ops through the gateway
    Then exactly one SMS reaches the payer's phone
    And the notification service lists the SMS as sent

  Scenario: A poison message is parked with its error while other messages keep flowing
    Given a message that no consumer can read is on the notification-ops queue
    When the payer pays 12000.00 COP by card and the payment is approved
    Then exactly one receipt email was sent for the payment
    And the poison message reaches the notification-ops DLQ with its error
    When the DLQ is redriven until the poison message is parked
    Then `paylab dlq list` shows the poison message parked with its error

  Scenario: Nothing is lost while the consumers are stopped
    Given the notification and audit consumers are stopped
    When the payer makes 3 approved card payments of 10000.00 COP
    Then no receipt email has been sent for them yet
    When the consumers start again
    Then each of the 3 payments gets exactly one receipt email
    And each of the 3 payments' notification events has exactly one audit row

  Scenario: The same event delivered three times gives one email and one audit row
    Given an approved card payment of 15000.00 COP
    When its notification event is delivered 3 more times to notification-ops and audit-ops
    Then exactly one receipt email was sent for the payment
    And the notification event has exactly one audit row

  Scenario: The audit chain verifies, and a tampered row is found
    Then the audit chain verifies
    When a database administrator changes the amount in one audit row
    Then verify reports that row as the first broken one
    And the audit chain verifies again once the row is restored
