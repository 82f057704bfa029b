"""Tests of the built-in ``sun`` integration."""
