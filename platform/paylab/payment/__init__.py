"""The payment service: payments, their event stream, and the SAGA's internal endpoints."""
