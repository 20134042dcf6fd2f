"""Paylab: the ePayco payments platform, runnable on one machine."""

__version__ = "0.1.0"
