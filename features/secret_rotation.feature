Feature: Secret rotation nobody notices
  Every credential lives in Secrets Manager and rotates through its rotation Lambda:
  database role passwords (ALTER ROLE with the admin login; pools fall back to AWSPENDING
  until the rotation finishes) and partner API keys (the partner accepts the old key for a
  grace window). Payments keep flowing through the gateway while it happens.

  Background:
    Given the stack checks partner API keys
    And the demo merchant is logged in through the gateway

  Scenario Outline: Rotating <secret> while payments flow fails no request and loses no payment
    When 20 card payments run while "<secret>" is rotated
    Then "<secret>" has a new AWSCURRENT version and the old one is AWSPREVIOUS
    And every payment was accepted and ended "approved"

    Examples:
      | secret             |
      | db/payment         |
      | db/wallet          |
      | partners/bank      |
      | partners/antifraud |

  Scenario: A rotation whose testSecret fails leaves AWSCURRENT as it was
    Given the antifraud partner fails its key check
    When "partners/antifraud" is rotated
    Then the rotation is reported failed at "testSecret"
    And the AWSCURRENT version of "partners/antifraud" did not change
    And a card payment still ends "approved"
    When the antifraud partner's key check works again
    And "partners/antifraud" is rotated
    Then "partners/antifraud" has a new AWSCURRENT version and the old one is AWSPREVIOUS

  Scenario: Two rotations in a row work
    When "partners/bank" is rotated
    And "partners/bank" is rotated
    Then "partners/bank" went through 2 new versions
    And a card payment still ends "approved"
