Feature: Secret rotation nobody notices
  Every credential lives in Secrets Manager and rotates through its rotation Lambda:
  database role passwords (ALTER ROLE with the admin login; pools fall back to AWSPENDING
  until the rotation finishes), partner API keys (the partner accepts the old key for a
  grace window) and the JWT signing key (auth signs with AWSCURRENT within 2 s and
  publishes AWSCURRENT and AWSPREVIOUS; the gateway refetches auth's JWKS on an unknown kid
  and every 15 s), the internal service credential (services accept the one it replaced for
  15 minutes; every caller reads it again and resends once when a service refuses theirs) and
  the operator key. Payments keep flowing through the gateway while it happens.

  Background:
    Given the stack checks partner API keys
    And the demo merchant is logged in through the gateway

  Scenario Outline: Rotating <secret> while payments flow fails no request and loses no payment
    When 20 card payments run while "<secret>" is rotated
    Then "<secret>" has a new AWSCURRENT version and the old one is AWSPREVIOUS
    And every payment was accepted and ended "approved"

    Examples:
      | secret                      |
      | db/payment                  |
      | db/wallet                   |
      | partners/bank               |
      | partners/antifraud          |
      | internal-service-credential |

  Scenario: Rotating the internal credential twice in a row while payments flow fails none
    The gateway (30 s) and the SAGA's Lambdas (5 minutes) may still hold the credential two
    rotations old; once a caller with the newest one has reached every service, they refuse
    it, and each caller reads the secret again and sends once more. The payments after the
    first quarter start once that has happened.
    When 20 card payments run while "internal-service-credential" is rotated twice in a row
    Then "internal-service-credential" went through 2 new versions
    And every payment was accepted and ended "approved"

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

  Scenario: Rotating the JWT signing key while payments flow fails no login and no payment
    Given a token issued before the rotation
    When 20 card payments, each after a new login, run while "jwt-signing-key" is rotated
    Then "jwt-signing-key" has a new AWSCURRENT version and the old one is AWSPREVIOUS
    And every payment was accepted and ended "approved"
    And new logins get the new key's kid, and payments with their tokens are approved
    And the token issued before the rotation still works

  Scenario: A token two JWT key rotations old is refused, one rotation old still works
    Given a token issued before both rotations
    When "jwt-signing-key" is rotated
    And a token is issued between the rotations with the new key
    And "jwt-signing-key" is rotated
    Then "jwt-signing-key" went through 2 new versions
    And the token issued before both rotations is refused with 401 within 40 s
    And the token issued between the rotations still works
    And new logins get the new key's kid, and payments with their tokens are approved
