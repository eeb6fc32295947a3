"""Owners from the MDMs (DESIGN "Ownership"), as pure rules: which matched devices take
their MDM user as owner, and the owner_mismatch finding."""
import datetime as dt
import io

from server.mdm.records import MdmRecord, normalise_serial
from server.reconcile import AgentDevice, KINDS, mdm_owner_plan, reconcile, write_csv

NOW = dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.timezone.utc)
H = dt.timedelta(hours=1)


def agent(dev_id, serial, owner=None, source=None):
    a = AgentDevice.create(dev_id, serial=serial, platform="darwin", last_seen=NOW - H,
                           hostname=f"host-{dev_id}")
    a.owner, a.owner_source = owner, source
    return a


def rec(source, sid, serial, email=None, **kw):
    return MdmRecord(source=source, source_id=sid, serial=normalise_serial(serial),
                     platform="macos", last_seen=NOW - 3 * H, user_email=email, **kw)


def owner_findings(agents, records):
    return [f for f in reconcile(agents, records, now=NOW) if f["kind"] == "owner_mismatch"]


def test_matched_devices_take_their_mdm_user():
    agents = [agent("d1", "S1"), agent("d2", "S2", "old@example.com", "mdm"),
              agent("d3", "S3", "alice@example.com", "mdm"), agent("d4", "S4"),
              agent("d5", "S5", "it@example.com", "it"), agent("d6", "S6", "me@example.com", "claim"),
              agent("d7", "S7", "gone@example.com", "mdm"), agent("d8", "S8", "x@example.com", "mdm"),
              agent("d9", "S9")]
    records = [rec("jamf", "1", "S1", "alice@example.com"),
               rec("jamf", "2", "S2", "new@example.com"),          # MDM reassigned it
               rec("jamf", "3", "S3", "alice@example.com"),        # already so: nothing to do
               rec("jamf", "4", "S4"),                             # no user: stays unowned
               rec("jamf", "5", "S5", "bob@example.com"),          # IT's owner stays
               rec("intune", "6", "S6", "bob@example.com"),        # the claim stays
               rec("jamf", "7", "S7", user="alice", user_unmapped="Jamf user 'alice' is not an email"),
               rec("jamf", "8", "S8", "a@example.com"), rec("intune", "8", "S8", "b@example.com"),
               rec("jamf", "9x", "OTHER", "z@example.com")]        # matches nobody
    plan = mdm_owner_plan(agents, records)
    assert plan == {"d1": ("alice@example.com", "jamf"), "d2": ("new@example.com", "jamf"),
                    # an MDM owner whose MDM now names nobody usable, or two MDMs who disagree:
                    # the owner is removed, not guessed
                    "d7": (None, "jamf"), "d8": (None, "intune")}
    # two MDMs that agree: one owner
    agree = mdm_owner_plan([agent("a", "S1")], [rec("jamf", "1", "S1", "alice@example.com"),
                                                rec("intune", "1", "S1", "alice@example.com")])
    assert agree == {"a": ("alice@example.com", "intune")}


def test_owner_mismatch_findings():
    agents = [agent("d5", "S5", "it@example.com", "it"), agent("d6", "S6", "me@example.com", "claim"),
              agent("d8", "S8"), agent("d1", "S1", "alice@example.com", "claim"),
              agent("d2", "S2", "old@example.com", "mdm")]
    records = [rec("jamf", "5", "S5", "bob@example.com"), rec("intune", "6", "S6", "bob@example.com"),
               rec("jamf", "8", "S8", "a@example.com"), rec("intune", "8", "S8", "b@example.com"),
               rec("jamf", "1", "S1", "alice@example.com"), rec("jamf", "2", "S2", "new@example.com")]
    found = {f["device_id"]: f for f in owner_findings(agents, records)}
    assert set(found) == {"d5", "d6", "d8"}     # agreeing claim, and an MDM owner: no finding
    f = found["d5"]
    assert f["sources"] == ["agent", "jamf"] and f["agent"] == "it@example.com"
    assert f["mdm"] == "bob@example.com" and f["serial"] == "S5" and f["mdm_ids"] == ["jamf:5"]
    assert f["detail"] == ("Jamf says the user is bob@example.com, but IT set it@example.com as "
                           "its owner. The owner stays it@example.com; correct the user in the "
                           "MDM, or the owner on the device page.")
    assert "me@example.com claimed it" in found["d6"]["detail"]
    assert found["d6"]["sources"] == ["agent", "intune"]
    f = found["d8"]
    assert f["sources"] == ["intune", "jamf"] and f["mdm"] == "a@example.com b@example.com"
    assert f["agent"] is None and f["mdm_ids"] == ["intune:8", "jamf:8"]
    assert f["detail"].startswith("Jamf says the user is a@example.com; Intune says the user is "
                                  "b@example.com. Its owner is not taken from an MDM")
    assert "owner_mismatch" in KINDS
    # ordered with the other kinds, and in the CSV
    kinds = [x["kind"] for x in reconcile(agents + [agent("u", "UNMANAGED")], records, now=NOW)]
    assert kinds.index("owner_mismatch") < kinds.index("unmanaged")
    buf = io.StringIO()
    write_csv(owner_findings(agents, records), buf)
    rows = buf.getvalue().splitlines()
    assert len(rows) == 4 and rows[1].startswith("owner_mismatch,S5,host-d5,agent jamf,")
    assert "it@example.com,bob@example.com" in rows[1]


def test_unmatched_and_userless_records_give_no_owner_finding():
    agents = [agent("d1", "S1", "alice@example.com", "it")]
    assert owner_findings(agents, [rec("jamf", "1", "S1")]) == []
    assert owner_findings(agents, [rec("jamf", "1", "OTHER", "bob@example.com")]) == []
    assert owner_findings(agents, [rec("jamf", "1", "S1", "Alice@Example.com")]) == []
