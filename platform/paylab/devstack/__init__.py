"""The local stack on the host: LocalStack, Postgres, Redis and simulators as managed processes."""
