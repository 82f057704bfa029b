"""Tests of the recorder integration."""
