"""The platform: Caliper API, event store, pipeline, query API and dashboard."""
