"""Dependency audit of the pinned lock against a vendored snapshot of the PyPA advisory database."""
