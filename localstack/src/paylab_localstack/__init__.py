"""Paylab's LocalStack plugins: DynamoDB on moto and a host-process Lambda executor."""
