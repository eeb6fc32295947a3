"""The server imports nothing of the agent but the shared contract (policy, check registry, status, serials)."""
import subprocess
import sys

PROBE = """
import sys
import server.app, server.cli, server.web, server.reconcile, server.mdm.cli, server.routes.pages
print(sorted(m for m in sys.modules if m == 'agent' or m.startswith(('agent.', 'probes'))))
"""


def test_server_imports_only_the_shared_policy_contract():
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    # the shared contract: the policy, the check registry, the status rule and the
    # placeholder serials (one copy each, issue 14), and the agent's words for observed facts
    # (agent.observed and agent.strings, for the device page); probes.serials brings its package
    assert out.stdout.strip().splitlines()[-1] == (
        "['agent', 'agent.checks', 'agent.observed', 'agent.policy', 'agent.status', 'agent.strings', 'agent.tomlcompat', "
        "'probes', 'probes.fact', 'probes.host', 'probes.serials']")
