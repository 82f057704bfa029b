"""The automation engine."""
