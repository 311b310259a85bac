"""Accounts: users, sessions, credentials (passwords, access tokens, refresh tokens, API keys)."""
