"""timeledger."""
