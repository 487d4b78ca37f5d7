"""The platform's HTTP surface: token, Caliper ingest, jobs, event reads and the query API."""
