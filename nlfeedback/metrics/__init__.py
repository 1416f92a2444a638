"""Metrics: interpretation (vs recorded intents), and later reward and behaviour metrics."""
