"""The command groups ``GovLedger`` (ledger/application.py) is made of, one concern each."""
