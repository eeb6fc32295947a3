"""The server imports nothing of the agent but the shared policy contract."""
import subprocess
import sys

PROBE = """
import sys
import server.app, server.cli, server.web, server.reconcile, server.mdm.cli
print(sorted(m for m in sys.modules if m == 'agent' or m.startswith(('agent.', 'probes'))))
"""


def test_server_imports_only_the_shared_policy_contract():
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "['agent', 'agent.policy', 'agent.tomlcompat']"
