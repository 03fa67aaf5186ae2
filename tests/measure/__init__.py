"""Tests of the policy measurement: deciding functions on hand-written ops, and the command
against real targets."""
