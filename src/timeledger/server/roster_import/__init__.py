"""OneRoster 1.2 CSV bulk and delta exports read into the roster tables, in one transaction."""
