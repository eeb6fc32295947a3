"""gatekeeper: `spctl --status` (stdout or stderr depending on the release)."""
import pytest

from darwin_testlib import ERRORS, data, err, host, ok
from probes.darwin import gatekeeper
from probes.darwin.gatekeeper import parse_spctl

ARGV = ["spctl", "--status"]

CASES = {
    # tests/fixtures/macos/sonoma-14-6-compliant.json
    "enabled.txt": True,
    # tests/fixtures/macos/sonoma-14-5-sip-and-gatekeeper-disabled.json
    "disabled.txt": False,
    # chris1111/Wireless-USB-Big-Sur-Adapter issue #161: spctl's usage text (no status in it)
    "usage.txt": None,
    "empty.txt": None,
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_parse_real_outputs(name):
    assert parse_spctl(data("gatekeeper", name)) is CASES[name]


@pytest.mark.parametrize("stream", ["stdout", "stderr"])
@pytest.mark.parametrize("name, expected", [("enabled.txt", True), ("disabled.txt", False)])
def test_probe_either_stream(stream, name, expected):
    fact = gatekeeper.probe(host(ok(ARGV, **{stream: data("gatekeeper", name)})))
    assert fact.observed == {"enabled": expected}


def test_probe_disabled_with_exit_1():
    fact = gatekeeper.probe(host(ok(ARGV, stderr=data("gatekeeper", "disabled.txt"), returncode=1)))
    assert fact.observed == {"enabled": False}


@pytest.mark.parametrize("kind", ERRORS)
def test_probe_errors(kind):
    fact = gatekeeper.probe(host(err(ARGV, kind)))
    assert fact.observed == {} and "spctl" in fact.unread["enabled"]


def test_probe_usage_and_odd_exit():
    assert gatekeeper.probe(host(ok(ARGV, stderr=data("gatekeeper", "usage.txt"), returncode=1))).unread == {
        "enabled": "spctl gave an answer Checkup does not understand"}
    assert gatekeeper.probe(host(ok(ARGV, "", returncode=64))).unread == {
        "enabled": "spctl gave no answer (exit 64)"}
