"""Checker tests on hand-written histories."""
