"""gateway: the public API (API Gateway locally): JWT checks, rate limits, routing to services."""
