"""The points ledger: accounts and append-only transfers (docs/reliability.md §2–3)."""
