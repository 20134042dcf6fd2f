Feature: Card payments through the SAGA
  A merchant charges a card through the gateway; the SAGA holds the money as the merchant's
  pending balance, charges the card at the acquirer, captures it net of the platform fee, and
  releases the hold when anything fails. After every scenario the ledger balances, no hold is
  left open, and the payment's row equals the fold of its events.

  Background:
    Given a new merchant is logged in through the gateway

  Scenario: An approved card payment is captured for the merchant
    When the merchant charges "30000.00" COP to card "4575623182290326"
    Then the payment ends "approved" with cod_respuesta 1
    And the merchant's available balance grew by "30000.00" less the platform fee
    And the execution went through "ReserveFunds, ProcessPayment, CaptureFunds, Notify"
    And the books are clean

  Scenario: A declined card releases the funds
    When the merchant charges "30000.00" COP to card "4151611527583283"
    Then the payment ends "rejected" with cod_respuesta 2
    And the merchant's balances did not change
    And the execution went through "ReserveFunds, ProcessPayment, ReleaseFunds, Notify"
    And the books are clean

  Scenario: The acquirer fails twice, the SAGA retries and the payment is approved
    Given the bank fails the next 2 authorizations with status 503
    When the merchant charges "12000.00" COP to card "4575623182290326"
    Then the payment ends "approved" with cod_respuesta 1
    And the bank saw 3 authorization attempts
    And the execution went through "ReserveFunds, ProcessPayment, CaptureFunds, Notify"
    And the books are clean

  Scenario: The acquirer keeps failing, the SAGA compensates
    Given the bank fails every authorization with status 503
    When the merchant charges "12000.00" COP to card "4575623182290326"
    Then the payment ends "failed" with cod_respuesta 4
    And the merchant's balances did not change
    And the execution went through "ReserveFunds, ProcessPayment, ReverseCharge, ReleaseFunds, Notify"
    And `paylab payments saga` shows "ProcessPayment" failing with "TransientError" until caught, then "ReleaseFunds"
    And the books are clean

  Scenario: The acquirer charges the card but every answer is lost: the SAGA gives the money back
    Given a payer card of its own
    And the bank charges this merchant's cards but cuts every answer short
    When the merchant charges "14000.00" COP to that card
    Then the payment ends "failed" with cod_respuesta 4
    And the merchant's balances did not change
    And the card's balance at the bank is back where it was
    And the bank refunded the payment's authorization once
    And the execution went through "ReserveFunds, ProcessPayment, ReverseCharge, ReleaseFunds, Notify"
    And the books are clean

  Scenario: A compensation the SAGA stopped for an operator is finished with `paylab payments compensate`
    Given the ReleaseFunds Lambda is deployed with a wrong wallet address
    When the merchant charges "30000.00" COP to card "4151611527583283"
    Then the SAGA fails with "CompensationFailed" and the payment's hold is still open
    And `paylab payments stopped` lists the payment as one to compensate
    When the ReleaseFunds Lambda's configuration is put right
    And an operator runs `paylab payments compensate` for the payment
    Then the command ran "ReleaseFunds, Notify"
    And `paylab payments stopped` no longer lists the payment
    And the payment ends "rejected" with cod_respuesta 2
    And the merchant's balances did not change
    And the books are clean

  Scenario: Antifraud rejects the payment before anything is held
    When the merchant charges "30000.00" COP to card "4575623182290326" for a blocked email
    Then the payment ends "rejected" with cod_respuesta 2
    And no execution was started for it
    And the merchant's balances did not change
    And the books are clean

  Scenario: The client retries with the same Idempotency-Key
    When the merchant sends the same card payment 3 times with one Idempotency-Key
    Then there is exactly one payment with that reference
    And every answer carried the same payment id
    And the payment ends "approved" with cod_respuesta 1
    And the execution went through "ReserveFunds, ProcessPayment, CaptureFunds, Notify"
    And the books are clean

  Scenario: An approved payment is refunded
    Given an approved card payment of "20000.00" COP
    When the merchant refunds it
    Then the payment is "reversed" with cod_respuesta 6
    And the execution went through "ReserveFunds, ProcessPayment, CaptureFunds, Notify"
    And the books are clean

  Scenario: The wallet service dies in the middle of the SAGA and no money stays held
    Given the bank takes 3 seconds to answer this merchant's authorizations
    When the merchant charges "15000.00" COP to card "4575623182290326"
    And the wallet service is killed while the funds are held
    And the wallet service is started again after the SAGA failed to reach it
    Then the payment ends "approved" with cod_respuesta 1
    And the merchant's available balance grew by "15000.00" less the platform fee
    And the execution went through "ReserveFunds, ProcessPayment, CaptureFunds, Notify"
    And the SAGA retried "CaptureFunds" while the wallet was down
    And the books are clean

  Scenario: The wallet stays down past CaptureFunds' retries: the approved payment waits, no release
    Given the bank takes 3 seconds to answer this merchant's authorizations
    When the merchant charges "15000.00" COP to card "4575623182290326"
    And the wallet service is killed while the funds are held
    And the wallet service is started again once the SAGA waits to capture later
    Then the payment ends "approved" with cod_respuesta 1
    And the merchant's available balance grew by "15000.00" less the platform fee
    And the execution went through "ReserveFunds, ProcessPayment, CaptureFunds, Notify"
    And the SAGA waited in "CaptureLater" and never ran "ReleaseFunds"
    And the books are clean

  Scenario: The ProcessPayment Lambda's process dies mid-step, the SAGA retries and charges once
    Given a payer card of its own
    And the bank takes 5 seconds to answer this merchant's authorizations
    When the merchant charges "15000.00" COP to that card
    And the runtime process of the "ProcessPayment" Lambda is killed in the middle of it
    Then the payment ends "approved" with cod_respuesta 1
    And the card's balance at the bank still shows the payment
    And the merchant's available balance grew by "15000.00" less the platform fee
    And the execution went through "ReserveFunds, ProcessPayment, CaptureFunds, Notify"
    And the SAGA retried "ProcessPayment" after its runtime died
    And the books are clean

  # The dead runtime's request waits unread in the stopped wallet's socket. On resume the wallet
  # may still serve it (the capture is made, nobody hears the answer) or drop it (uvicorn ends
  # a request whose client left before its body was read); either way the SAGA's retry carries
  # the same operation id, and the hold is captured once.
  Scenario: The CaptureFunds Lambda's process dies while the wallet holds its request: one capture
    Given the bank takes 3 seconds to answer this merchant's authorizations
    When the merchant charges "15000.00" COP to card "4575623182290326"
    And the wallet service is paused once the SAGA is past ReserveFunds
    And the runtime process of the "CaptureFunds" Lambda is killed while its request waits in the wallet
    And the wallet service resumes
    Then the payment ends "approved" with cod_respuesta 1
    And the merchant's available balance grew by "15000.00" less the platform fee
    And the execution went through "ReserveFunds, ProcessPayment, CaptureFunds, Notify"
    And the SAGA retried "CaptureFunds" after its runtime died
    And the books are clean
