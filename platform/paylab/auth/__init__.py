"""auth: merchants' API keys, login, and the JWT signing keys the gateway trusts (JWKS)."""
