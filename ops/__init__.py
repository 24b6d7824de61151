"""Running the ledger: the ``govledger`` CLI, metrics, alert rules, deployment scripts."""
