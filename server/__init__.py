"""Checkup's central server: enrollment, reports, fleet pages for IT.

Installed with the ``server`` extra (``pip install '.[server]'``); the agent
never imports it, and it imports nothing of the agent.
"""
__version__ = "0.1.0"
