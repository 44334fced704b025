"""The points ledger: accounts and append-only transfers (docs/ledger.md)."""
