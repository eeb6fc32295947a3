"""Device identity: `ioreg -rd1 -c IOPlatformExpertDevice`."""
import pytest

from darwin_testlib import ERRORS, data, err, host, ok
import importlib

from probes.darwin.identity import clean_serial, parse_ioreg

# probes.darwin exports the identity() function under the module's name, so fetch the module itself.
identity = importlib.import_module("probes.darwin.identity")

ARGV = ["ioreg", "-rd1", "-c", "IOPlatformExpertDevice"]

CASES = {
    # tests/fixtures/macos/sonoma-14-6-compliant.json (Apple silicon; serial-number is hex data)
    "apple-silicon-sonoma.txt": {"serial": "K7QX9W2LVN",
                                 "hardware_uuid": "6F1C2A94-3B7E-5D40-9A21-C84E0B7F3D15",
                                 "model": "MacBookPro18,3"},
    # tests/fixtures/macos/ventura-13-6-filevault-off-remote-login-admin.json (Intel)
    "intel-ventura.txt": {"serial": "C02ZK4XQMD6T",
                          "hardware_uuid": "A41E7C02-95D3-4B8F-8E6A-1D3C5F7B9E20",
                          "model": "MacBookPro16,1"},
    "empty.txt": {"serial": None, "hardware_uuid": None, "model": None},
    "garbage.txt": {"serial": None, "hardware_uuid": None, "model": None},  # made up
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_parse_real_outputs(name):
    assert parse_ioreg(data("identity", name)) == CASES[name]


@pytest.mark.parametrize("value", ["To Be Filled By O.E.M.", "Default string", "System Serial Number",
                                   "Not Specified", "None", "0", "123456789", "", "  ", "default STRING"])
def test_placeholder_serials_are_none(value):
    assert clean_serial(value) is None


def test_placeholder_serial_in_ioreg_output():
    text = data("identity", "intel-ventura.txt").replace('"C02ZK4XQMD6T"', '"System Serial Number"')
    assert parse_ioreg(text)["serial"] is None


def test_identity_through_host():
    got = identity.identity(host(ok(ARGV, data("identity", "intel-ventura.txt"))))
    assert got == CASES["intel-ventura.txt"]


@pytest.mark.parametrize("kind", ERRORS)
def test_identity_errors_are_all_none(kind):
    assert identity.identity(host(err(ARGV, kind))) == {"serial": None, "hardware_uuid": None, "model": None}


def test_identity_nonzero_exit_is_all_none():
    got = identity.identity(host(ok(ARGV, data("identity", "intel-ventura.txt"), returncode=1)))
    assert got == {"serial": None, "hardware_uuid": None, "model": None}


def test_package_exports_identity():
    import probes.darwin as darwin
    assert darwin.identity is identity.identity
