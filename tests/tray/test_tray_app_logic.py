"""TrayApp without a display: menu contents, snooze, notification clicks, pages, state."""
import time
from datetime import datetime, timedelta, timezone

from agent.nudge import Notification
from agent.tray.app import TrayApp, tooltip_for

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=timezone(timedelta(hours=1)))   # Monday 10:00


class Item:
    def __init__(self, text, action=None, enabled=True, default=False):
        self.text, self.action, self.enabled, self.default, self.submenu = text, action, enabled, default, None
        if isinstance(action, Menu):
            self.submenu = action


class Menu:
    SEPARATOR = "---"

    def __init__(self, *items):
        self.items = items


class FakeNotifier:
    def __init__(self):
        self.sent = []

    def send(self, note, uri, settings_uri=None):
        self.sent.append((note, uri, settings_uri))
        return True

    def close(self):
        pass


def report(fw="fail", rl="nudge"):
    return {"status": "fail" if fw == "fail" else "nudge", "checked_at": "2026-03-02T09:00:00Z",
            "device": {"hostname": "alice-mbp"},
            "checks": [{"id": "firewall", "status": fw, "title": "Firewall", "summary": "The firewall is off.",
                        "fix": {"link": "ms-settings:windowsdefender", "steps": ["Turn it on."]}},
                       {"id": "remote_login", "status": rl, "title": "Remote login", "summary": "SSH is on."},
                       {"id": "gatekeeper", "status": "pass", "title": "Gatekeeper", "summary": "On."},
                       {"id": "antivirus", "status": "skip", "title": "Antivirus", "summary": "n/a"}]}


def make_app(tmp_path, opened):
    notifier = FakeNotifier()
    app = TrayApp(lambda: report(), settings=None, org={"name": "ACME"}, replay=True,
                  pages_dir=str(tmp_path / "pages"), state_file=str(tmp_path / "state.json"),
                  open_url=opened.append, notifier=notifier, now=lambda: NOW)
    app.notifier = notifier
    return app, notifier


def wait(pred):
    end = time.monotonic() + 2
    while time.monotonic() < end and not pred():
        time.sleep(0.01)
    return pred()


def test_menu_lists_problems_then_the_fixed_items(tmp_path):
    opened = []
    app, notifier = make_app(tmp_path, opened)
    app._on_result(report(), None)
    texts = [i.text if isinstance(i, Item) else i for i in app.menu_items(Item, Menu)]
    assert texts == ["2 things need your attention.", "Last checked 10:00",
                     "---", "Required", "✕ Firewall", "---", "Suggested", "! Remote login", "---", "Check now",
                     "Open report", "Snooze reminders", "About & privacy", "Quit"]
    items = app.menu_items(Item, Menu)
    assert [i.enabled for i in items[:2]] == [False, False] and items[3].enabled is False
    assert [i.text for i in items if isinstance(i, Item) and i.default] == ["Open report"]
    items[4].action()
    assert wait(lambda: opened) and opened[-1].endswith("/pages/firewall.html")
    assert tooltip_for(app.report) == "Checkup: 2 things need your attention"
    assert len(notifier.sent) == 1 and notifier.sent[0][1].endswith("/pages/report.html")


def test_menu_groups_unknown_checks_and_says_the_day_of_an_older_check(tmp_path):
    opened = []
    app, _ = make_app(tmp_path, opened)
    r = report(fw="unknown", rl="nudge")
    r["checked_at"] = "2026-02-26T14:09:00Z"
    app._on_result(r, None)
    texts = [i.text if isinstance(i, Item) else i for i in app.menu_items(Item, Menu)]
    assert texts[:9] == ["1 thing is worth fixing soon. 1 more could not be checked.", "Last checked 26 Feb, 15:09",
                         "---", "Suggested", "! Remote login", "---", "Could not check", "? Firewall", "---"]
    app.report = {"status": "pass", "checked_at": "not a date", "checks": []}
    texts = [i.text if isinstance(i, Item) else i for i in app.menu_items(Item, Menu)]
    assert texts[:3] == ["Everything looks good.", "Last checked not a date", "---"]
    assert "Required" not in texts and "Suggested" not in texts


def test_snooze_from_the_menu_until_none_left(tmp_path):
    opened = []
    app, _ = make_app(tmp_path, opened)
    app._on_result(report(), None)
    for n in range(3):
        # a day later the reminders are due again, and the person snoozes them again
        app.now = lambda n=n: NOW + timedelta(days=n)
        for rec in app.state["checks"].values():
            if rec.get("notified_at"):
                rec["notified_at"] -= 30 * 24 * 3600
        snooze = next(i for i in app.menu_items(Item, Menu) if getattr(i, "text", "") == "Snooze reminders")
        snooze.submenu.items[1].action()                      # until tomorrow
        assert app.state["checks"]["firewall"]["snoozes"] == n + 1
    assert "Snooze reminders" not in [getattr(i, "text", i) for i in app.menu_items(Item, Menu)]


def test_notification_click_opens_the_named_page_and_snooze_action(tmp_path):
    opened = []
    app, _ = make_app(tmp_path, opened)
    app._on_result(report(rl="pass"), None)
    note = Notification("t", "b", [{"id": "firewall", "status": "fail"}], [], "firewall", ["firewall"])
    app.on_notification_action(note, "default")
    assert wait(lambda: opened) and opened[-1].endswith("/pages/firewall.html")
    app.state["checks"]["firewall"]["notified_at"] -= 30 * 24 * 3600     # due again
    app.on_notification_action(note, "snooze")
    rec = app.state["checks"]["firewall"]
    assert rec["snoozes"] == 1 and rec["snoozed_until"] == datetime(2026, 3, 3, 9, 0, tzinfo=NOW.tzinfo).timestamp()


def test_a_failed_check_shows_unknown_not_a_crash(tmp_path):
    opened = []
    app, notifier = make_app(tmp_path, opened)
    app._on_result(None, RuntimeError("boom"))
    assert app.report["status"] == "unknown" and notifier.sent == []
    texts = [getattr(i, "text", i) for i in app.menu_items(Item, Menu)]
    assert texts[0] == "Checkup could not check this computer."
    app.open_page("about")
    assert wait(lambda: opened) and opened[-1].endswith("/pages/about.html")


def test_state_survives_a_restart(tmp_path):
    opened = []
    app, notifier = make_app(tmp_path, opened)
    app._on_result(report(), None)
    app2, notifier2 = make_app(tmp_path, opened)
    app2._on_result(report(), None)
    assert len(notifier.sent) == 1 and notifier2.sent == []     # no repeat after a restart


def test_an_exempt_check_is_shown_in_the_menu_and_never_notified(tmp_path):
    opened = []
    app, notifier = make_app(tmp_path, opened)
    rep = report(fw="exempt", rl="pass")
    rep["status"] = "pass"
    rep["checks"][0].update(summary="Exempt until 12 Jan (IT: kiosk).",
                            exempt={"until": "2027-01-12", "reason": "kiosk", "status": "fail"})
    app._on_result(rep, None)
    texts = [i.text if isinstance(i, Item) else i for i in app.menu_items(Item, Menu)]
    assert texts[3:5] == ["Excused by IT", "Firewall: Exempt until 12 Jan (IT: kiosk)."], texts
    assert notifier.sent == []
    page = (tmp_path / "pages" / "firewall.html").read_text(encoding="utf-8")
    assert "Exempt until 12 Jan (IT: kiosk)." in page and "won&#x27;t remind you" in page
