"""Checkup agent: judge facts against policy, and act (CLI, tray, notifications, reports)."""
__version__ = "0.1.0"
