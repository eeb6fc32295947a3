"""Checkup's central server: enrollment, reports, fleet pages for IT.

Installed with the ``server`` extra (``pip install '.[server]'``); the agent
never imports it, and it imports nothing of the agent but the shared data
shapes (the policy contract in ``agent.policy``).
"""
__version__ = "0.1.0"
