"""What we generate for platforms that cannot run here: Windows toast XML, macOS osascript."""
import xml.etree.ElementTree as ET

from agent.notify import MacNotifier, Notifier, osascript_argv, toast_xml
from agent.nudge import Notification


def note(**kw):
    base = dict(title="Checkup: Firewall needs your attention", body="• The firewall is off.",
                problems=[{"id": "firewall", "status": "fail"}], fixed=[], target="firewall",
                snoozable=["firewall"])
    base.update(kw)
    return Notification(**base)


def test_toast_launches_the_fix_page_and_settings():
    page = "file:///C:/Users/alice/AppData/Local/Checkup/pages/firewall.html"
    xml = toast_xml(note(), page, "ms-settings:windowsdefender")
    root = ET.fromstring(xml)
    assert root.tag == "toast" and root.get("activationType") == "protocol" and root.get("launch") == page
    texts = [e.text for e in root.iter("text")]
    assert texts[0] == "Checkup: Firewall needs your attention"
    actions = root.findall("./actions/action")
    assert [(a.get("activationType"), a.get("arguments")) for a in actions] == [
        ("protocol", page), ("protocol", "ms-settings:windowsdefender")]
    assert root.find("./visual/binding").get("template") == "ToastGeneric"


def test_toast_escapes_everything_and_refuses_odd_settings_links():
    n = note(title='Checkup: <script>alert("x")</script> & co', body="a & b <i>\nline2\nline3")
    xml = toast_xml(n, 'file:///C:/p/a"b&c.html', "javascript:alert(1)")
    root = ET.fromstring(xml)                       # well-formed despite the input
    assert root.get("launch") == 'file:///C:/p/a"b&c.html'
    assert [e.text for e in root.iter("text")][0] == 'Checkup: <script>alert("x")</script> & co'
    assert len(root.findall("./actions/action")) == 1
    assert "<script>" not in xml


def test_fixed_toast_has_no_actions():
    root = ET.fromstring(toast_xml(note(problems=[], fixed=[{"id": "firewall"}], target=None,
                                        title="Checkup: Firewall is fixed, thank you!",
                                        body="Thanks."), "file:///C:/r.html"))
    assert root.find("actions") is None


def test_osascript_passes_text_as_arguments():
    argv = osascript_argv('He said "hi" \\ bye', "body")
    assert argv[0] == "/usr/bin/osascript" and argv[-2:] == ['He said "hi" \\ bye', "body"]
    assert all('"hi"' not in a for a in argv[:-2])


def test_unclickable_notifiers_name_the_menu():
    class Plain(Notifier):
        clickable = False
    assert "Checkup icon" in Plain().body_for(note())
    mac = MacNotifier.__new__(MacNotifier)
    assert "menu bar" in mac.body_for(note())
    fixed = note(problems=[], fixed=[{"id": "firewall"}], body="Thanks.")
    assert Plain().body_for(fixed) == "Thanks."


def test_each_notification_shows_the_icon_of_what_it_says():
    from agent.notify import icon_state
    assert icon_state(note()) == "fail"
    assert icon_state(note(problems=[{"id": "screen_lock", "status": "nudge"}])) == "nudge"
    assert icon_state(note(problems=[{"id": "a", "status": "nudge"}, {"id": "b", "status": "fail"}])) == "fail"
    assert icon_state(note(problems=[], fixed=[{"id": "firewall"}], target=None)) == "pass"
    assert icon_state(note(problems=[], fixed=[], target=None)) == "unknown"
