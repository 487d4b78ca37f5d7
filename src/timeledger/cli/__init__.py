"""Command-line entry points: thin commands over the SDK and the platform."""
