"""Shared helpers for the integration tests (raw-socket bursts, HTTP helpers)."""
