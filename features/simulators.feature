Feature: Partner simulators with reproducible faults
  Paylab's simulators stand in for PSE, the card acquirer, antifraud and the SMS provider.
  QA and partners inject failures through /_sim/ and a seed makes random failures repeatable.

  Background:
    Given the partner simulators run with seed 42

  Scenario: The bank fails the next 2 authorizations, then recovers
    Given the bank fails the next 2 authorizations with status 503
    When the shop authorizes 3 payments of "30000.00" with card 4575623182290326
    Then the bank answers 503, 503, 201
    And the bank journal shows 2 authorizations faulted by rule "f1"

  Scenario: A random fault schedule is the same for the same seed
    Given the bank fails authorizations with status 503 at a 30% chance
    When the shop authorizes 20 payments of "1000.00" with card 4575623182290326
    And the bank is reset to seed 42 with the same fault
    And the shop authorizes 20 payments of "1000.00" with card 4575623182290326 again
    Then both runs got the same answers
    And some answers were 503 and some 201

  Scenario Outline: ePayco's test cards behave as documented
    When the shop authorizes 1 payment of "30000.00" with card <card>
    Then the authorization is <status> with code "<code>"

    Examples:
      | card             | status   | code               |
      | 4575623182290326 | approved | approved           |
      | 4151611527583283 | rejected | insufficient_funds |
      | 5170394490379427 | failed   | processor_error    |
      | 373118856457642  | pending  | pending_review     |

  Scenario: A card runs out of funds
    Given card 4575623182290326 has a balance of "100000.00"
    When the shop authorizes 3 payments of "40000.00" with card 4575623182290326
    Then the response codes are approved, approved, insufficient_funds

  Scenario: The bank answers slowly
    Given the bank delays authorizations by 200 ms
    When the shop authorizes 1 payment of "30000.00" with card 4575623182290326
    Then the answer took at least 200 ms

  Scenario: The payer approves a PSE transfer on the bank page
    When the shop starts a PSE transfer of "30000.00" at bank 1007
    And the payer presses "approve" on the bank page
    Then the browser is sent back to the shop with status "approved"
    And the shop receives 1 confirmation with status "approved" signed with the PSE secret

  Scenario: PSE never sends the confirmation
    Given PSE drops the next confirmation
    When the shop starts a PSE transfer of "30000.00" at bank 9991
    Then the shop receives no confirmation
    And the PSE journal shows the confirmation was dropped

  Scenario: PSE sends a confirmation with a bad signature
    Given PSE signs the next confirmation wrongly
    When the shop starts a PSE transfer of "30000.00" at bank 9991
    Then the shop receives 1 confirmation with status "approved" whose signature does not verify

  Scenario: SMS delivery receipts arrive out of order
    Given the SMS provider holds the "sent" receipt until the next one
    When the shop sends an SMS to "+573001234567" with receipts
    Then the receipts arrive as delivered, sent

  Scenario: Antifraud rejects a blocked e-mail
    When antifraud evaluates a payment of "30000.00" from "fraud@paylab.test"
    Then antifraud decides "reject" because of "blocklist_email"
