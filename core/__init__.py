"""Edgewise's runtime kernel."""
