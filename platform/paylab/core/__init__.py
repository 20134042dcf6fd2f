"""What every service shares: settings, AWS clients, database, secrets."""
