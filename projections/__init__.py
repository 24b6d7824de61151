"""Read models over the ledger: audit views, findings, anomalies, rights register, reports."""
