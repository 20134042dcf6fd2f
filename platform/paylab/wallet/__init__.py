"""The wallet: a double-entry ledger of payer wallets and merchant accounts, with holds."""
