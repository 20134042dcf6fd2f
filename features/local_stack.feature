Feature: The local stack
  A developer starts the whole platform with one command and can trust what it reports.

  Scenario: Everything `paylab up` starts reports healthy
    Given the local stack is running
    When I ask for its status
    Then LocalStack, Postgres and Redis are healthy
    And the CloudFormation stack is complete
    And its outputs name the queues, topics, bus, event store and secrets of the architecture

  Scenario: A service's database role sees its own schema and nothing else
    Given the local stack is running
    When the wallet service's role reads its own outbox
    Then it gets an answer
    But when it reads the auth service's outbox it is refused
