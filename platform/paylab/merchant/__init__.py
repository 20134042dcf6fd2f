"""The merchant service: registration, profile, payout account, signed confirmation webhooks."""
