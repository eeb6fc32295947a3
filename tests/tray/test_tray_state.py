import json
import os

from agent.state import atomic_write_text, fresh_state, load_state, save_state


def test_missing_and_corrupt_state_mean_a_fresh_start(tmp_path):
    p = tmp_path / "state.json"
    assert load_state(str(p)) == fresh_state()
    for junk in (b"{not json", b"\xff\xfe\x00", b"[]", b'{"version": 99, "checks": {}}', b'{"version": 1}', b""):
        p.write_bytes(junk)
        assert load_state(str(p)) == fresh_state()


def test_bad_records_are_dropped(tmp_path):
    p = tmp_path / "state.json"
    p.write_text(json.dumps({"version": 1, "checks": {"firewall": {"problem": "fail"}, "x": 3}}))
    assert load_state(str(p))["checks"] == {"firewall": {"problem": "fail"}}


def test_save_is_atomic_and_private(tmp_path, monkeypatch):
    p = tmp_path / "sub" / "state.json"
    s = fresh_state()
    s["checks"]["firewall"] = {"problem": "fail", "notified_at": 1.5}
    save_state(s, str(p))
    assert load_state(str(p)) == s
    assert oct(os.stat(p).st_mode & 0o777) == "0o600"
    # a crash while writing leaves the old file whole and no temp files behind
    def boom(*a, **k):
        raise OSError("disk full")
    monkeypatch.setattr(os, "replace", boom)
    try:
        save_state(fresh_state(), str(p))
    except OSError:
        pass
    assert load_state(str(p)) == s
    assert sorted(os.listdir(p.parent)) == ["state.json"]


def test_default_location_is_the_user_state_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    save_state(fresh_state())
    assert (tmp_path / "Checkup" / "state.json").exists() or any(tmp_path.rglob("state.json"))


def test_atomic_write_text_replaces(tmp_path):
    p = tmp_path / "a.txt"
    atomic_write_text(str(p), "one")
    atomic_write_text(str(p), "two")
    assert p.read_text() == "two"
