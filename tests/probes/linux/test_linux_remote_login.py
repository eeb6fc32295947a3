"""remote_login on Linux without systemd (Devuan, Alpine, containers): the process list decides.

Where each file comes from (test-data/remote_login/):
- systemctl-is-active-no-systemd-stderr.txt: systemd 252's systemctl on the Debian 12 test VM,
  where systemd is not PID 1 (see test_linux_parsers.py).
- processes-debian-12-no-systemd-dropbear.txt: LiveHost().processes() (psutil 7.2) on that VM
  while a real Dropbear 2022.83 SSH server ran (`dropbear -F -E -s -p 127.0.0.1:2222` inside
  its own empty network namespace, so nothing could reach it); -no-ssh.txt: the same list a
  moment after it was stopped. Both contain the VM's own programs and the other test runs.
Process names of other SSH servers: OpenSSH's daemon is "sshd" (9.8+ adds one "sshd-session"
per login, 10.0 "sshd-auth"); Alpine's openssh-server-pam package installs /usr/sbin/sshd.pam
and its init script starts that, so the process is "sshd.pam" (the cause of lynis issue #1175,
"Lynis does not detect OpenSSH server running on Alpine Linux": pgrep sshd finds nothing).
"""
from __future__ import annotations

import pytest

from linux_probe_helpers import cmd, data
from probes.host import RecordedHost
from probes.linux import remote_login
from probes.linux._util import NO_SYSTEMD

IS_ACTIVE = ["systemctl", "is-active"]


def processes(name):
    return [line for line in data("remote_login", name).splitlines() if line.strip()]


def no_systemd_commands():
    err = data("remote_login", "systemctl-is-active-no-systemd-stderr.txt")
    return [cmd(IS_ACTIVE + [u], "", err, 1) for u in remote_login.UNITS]


def host(commands=(), procs=None):
    return RecordedHost({"platform": "linux", "commands": list(commands),
                         "processes": list(procs or [])})


@pytest.mark.parametrize("commands", [no_systemd_commands(), []],
                         ids=["systemd-not-booted", "no-systemctl"])
def test_running_ssh_server_is_on(commands):
    fact = remote_login.probe(host(commands, processes("processes-debian-12-no-systemd-dropbear.txt")))
    assert fact.observed == {"enabled": True} and not fact.unread


@pytest.mark.parametrize("commands", [no_systemd_commands(), []],
                         ids=["systemd-not-booted", "no-systemctl"])
def test_no_ssh_server_and_nothing_on_demand_is_off(commands):
    fact = remote_login.probe(host(commands, processes("processes-debian-12-no-systemd-no-ssh.txt")))
    assert fact.observed == {"enabled": False} and not fact.unread


@pytest.mark.parametrize("name", ["sshd", "sshd.pam", "sshd.krb5", "sshd-session", "sshd-session.pa",
                                  "sshd-auth", "dropbear", "tinysshd", "/usr/sbin/sshd", "SSHD"])
def test_ssh_server_names(name):
    procs = processes("processes-debian-12-no-systemd-no-ssh.txt") + [name]
    assert remote_login.probe(host(no_systemd_commands(), procs)).observed == {"enabled": True}


@pytest.mark.parametrize("name", ["ssh", "ssh-agent", "sshfs", "ssh-keygen", "sshdx", "autossh"])
def test_ssh_clients_do_not_count(name):
    procs = processes("processes-debian-12-no-systemd-no-ssh.txt") + [name]
    assert remote_login.probe(host(no_systemd_commands(), procs)).observed == {"enabled": False}


@pytest.mark.parametrize("starter", ["inetd", "xinetd", "tcpsvd", "s6-tcpserver4"])
def test_on_demand_starter_is_unknown(starter):
    procs = processes("processes-debian-12-no-systemd-no-ssh.txt") + [starter]
    fact = remote_login.probe(host(no_systemd_commands(), procs))
    assert fact.observed == {}
    assert fact.unread["enabled"] == remote_login.ON_DEMAND_REASON.format(name=starter)


def test_on_demand_starter_with_a_running_sshd_is_on():
    procs = processes("processes-debian-12-no-systemd-no-ssh.txt") + ["inetd", "sshd"]
    assert remote_login.probe(host(no_systemd_commands(), procs)).observed == {"enabled": True}


def test_no_process_list_keeps_the_systemctl_reason():
    assert remote_login.probe(host(no_systemd_commands())).unread == {"enabled": NO_SYSTEMD}
    assert remote_login.probe(host()).unread == {"enabled": "systemctl is not available"}


def test_systemd_answers_win_over_processes():
    # with systemd the units decide: an sshd process may belong to a container on this machine
    inactive = [cmd(IS_ACTIVE + [u], "inactive\n", "", 3) for u in remote_login.UNITS]
    fact = remote_login.probe(host(inactive, ["systemd", "sshd"]))
    assert fact.observed == {"enabled": False}


def test_unclear_systemctl_is_not_overridden():
    # a real systemd that gives a strange answer stays unknown (no guessing from processes)
    commands = [cmd(IS_ACTIVE + ["ssh"], "", "", None, error="timeout")] + no_systemd_commands()[1:]
    fact = remote_login.probe(host(commands, ["sshd"]))
    assert fact.observed == {} and fact.unread["enabled"] == "systemctl timed out"


class BrokenHost(RecordedHost):
    def processes(self):
        raise OSError("boom")


def test_broken_process_list_is_not_hidden(caplog):
    # Host.processes never raises (LiveHost reads [] when psutil fails); a host that raises
    # is a bug: the probe lets it through and the pipeline logs it as this check's unknown.
    h = BrokenHost({"platform": "linux", "commands": no_systemd_commands()})
    with pytest.raises(OSError, match="boom"):
        remote_login.probe(h)
    from agent.pipeline import probe
    with caplog.at_level("ERROR", logger="checkup.pipeline"):
        facts, _ = probe(h)
    assert facts["remote_login"].unread == {"_": "the check failed unexpectedly (OSError)"}
    assert any("check remote_login: the probe raised OSError" in r.getMessage() for r in caplog.records)


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(st.text(max_size=20), st.sampled_from(
    ["sshd", "sshd.pam", "inetd", "dropbear", "", " ", "/", "SSHD-SESSION"])), max_size=20))
def test_any_process_list_gives_an_answer_or_a_reason(procs):
    fact = remote_login.probe(host(no_systemd_commands(), procs))
    assert ("enabled" in fact.observed) != ("enabled" in fact.unread)
