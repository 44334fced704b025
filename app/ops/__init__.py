"""Running an installation: backups and their restore, and the schema check at start-up.

Core-level: nothing here imports a feature. The checks a restored database must pass (the ledger's, the
audit chain's) are handed in by the command line (app/cli.py), which sits above every feature.
"""
