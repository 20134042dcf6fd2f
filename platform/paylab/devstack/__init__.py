"""The local stack on the host: LocalStack, Postgres, Redis and the simulators as managed processes."""
