"""Ivanti EPM connector: MBSDK RunQuery DataSet XML, parsed as a stream."""
import pytest

from mdmstubs import IvantiStub
from server.mdm import IvantiConnector, MdmError


def row(n, **over):
    r = {"Device ID": f"{{6B1A{n:04d}-0000-0000-0000-000000000000}}", "Device Name": f"PC-{n:04d}",
         "Serial Number": f"5CG{n:07d}", "MAC Address": f"00:1A:2B:00:00:{n:02X}",
         "OS Name": "Microsoft Windows 11 Enterprise", "OS Version": "10.0.22631",
         "Last Inventory Scan Date": "2025-05-30T06:12:00", "Login Name": f"CORP\\user{n}"}
    r.update(over)
    return r


def connector(stub, sleeps=None, **cfg):
    config = {"url": stub.url, "username": "epm\\checkup", "password_env": "IVANTI_PASSWORD",
              "query": "Checkup inventory", **cfg}
    return IvantiConnector(config, environ={"IVANTI_PASSWORD": "pw"},
                           sleep=(sleeps if sleeps is not None else []).append)


def test_runquery_rows_mapped_after_a_500():
    rows = [row(n) for n in range(1, 6)]
    rows[2] = row(3, **{"Serial Number": "To Be Filled By O.E.M.", "Device ID": ""})
    rows.append({"Device Name": "", "Device ID": ""})   # nothing to identify it by
    stub = IvantiStub(rows)
    stub.faults = {1: (500, {"Content-Type": "text/plain"}, "busy")}
    sleeps = []
    try:
        conn = connector(stub, sleeps)
        recs = list(conn.records())
    finally:
        stub.close()
    assert len(recs) == 5 and conn.stats.skipped == 1 and len(sleeps) == 1
    r = recs[0]
    assert (r.source, r.hostname, r.serial, r.platform, r.os_version, r.user) == (
        "ivanti", "PC-0001", "5CG0000001", "windows", "10.0.22631", "CORP\\user1")
    assert r.macs == ("00:1A:2B:00:00:01",) and r.last_seen.isoformat() == "2025-05-30T06:12:00+00:00"
    assert recs[2].serial is None and recs[2].source_id == "PC-0003"


def test_wrong_query_or_broken_xml():
    stub = IvantiStub([row(1)])
    stub.raw = "<DataSet><oops"
    try:
        with pytest.raises(MdmError, match="well-formed"):
            list(connector(stub).records())
        stub.raw = None
        with pytest.raises(MdmError, match="HTTP 500"):
            list(connector(stub, query="No such query").records())
    finally:
        stub.close()


def test_wrong_password():
    stub = IvantiStub([row(1)], password="other")
    try:
        with pytest.raises(MdmError, match="refused the credentials"):
            list(connector(stub).records())
    finally:
        stub.close()
