"""Every sentence the tray, the notifications and the fix pages show, in one place.

Translating Checkup later means translating this table. Templates use
``str.format`` fields; ``t(key, **fields)`` fills them. Plurals are separate keys
(``..._one`` / ``..._many``) chosen by ``tn``.
"""
from __future__ import annotations

STRINGS: dict[str, str] = {
    # -- product ---------------------------------------------------------
    "app_name": "Checkup",

    # -- device / check status in words -------------------------------------
    "status.pass": "All good",
    "status.skip": "Does not apply",
    "status.unknown": "Could not check",
    "status.nudge": "Worth fixing soon",
    "status.fail": "Needs fixing",
    "status.exempt": "Exempt",
    "status.checking": "Checking…",

    "device.pass": "Everything looks good.",
    "device.nudge_one": "1 thing is worth fixing soon.",
    "device.nudge_many": "{n} things are worth fixing soon.",
    "device.fail_one": "1 thing needs your attention.",
    "device.fail_many": "{n} things need your attention.",
    "device.unknown": "Checkup could not check this computer.",
    "device.pass_partial_one": "Nothing needs fixing, but 1 thing could not be checked.",
    "device.pass_partial_many": "Nothing needs fixing, but {n} things could not be checked.",
    "device.also_unknown_one": "1 more could not be checked.",
    "device.also_unknown_many": "{n} more could not be checked.",
    "device.checking": "Checking this computer…",

    # -- tray ----------------------------------------------------------------
    "tooltip.pass": "Checkup: everything looks good",
    "tooltip.nudge_one": "Checkup: 1 thing is worth fixing soon",
    "tooltip.nudge_many": "Checkup: {n} things are worth fixing soon",
    "tooltip.fail_one": "Checkup: 1 thing needs your attention",
    "tooltip.fail_many": "Checkup: {n} things need your attention",
    "tooltip.unknown": "Checkup: could not check this computer",
    "tooltip.pass_partial_one": "Checkup: nothing to fix; 1 thing could not be checked",
    "tooltip.pass_partial_many": "Checkup: nothing to fix; {n} things could not be checked",
    "tooltip.checking": "Checkup: checking…",
    "menu.status": "{status}",
    "menu.group_fail": "Required",
    "menu.group_nudge": "Suggested",
    "menu.group_unknown": "Could not check",
    "menu.item_fail": "✕ {title}",
    "menu.item_nudge": "! {title}",
    "menu.item_unknown": "? {title}",
    "menu.group_exempt": "Excused by IT",
    "menu.item_exempt": "{title}: {summary}",
    "page.exempt": "IT has excused this check for now, so Checkup won't remind you about it. "
                   "It counts again when the exemption ends.",
    "menu.check_now": "Check now",
    "menu.checking": "Checking…",
    "menu.open_report": "Open report",
    "menu.snooze": "Snooze reminders",
    "menu.snooze_hour": "For an hour",
    "menu.snooze_tomorrow": "Until tomorrow",
    "menu.snooze_none_left": "No more snoozes for these",
    "menu.about": "About & privacy",
    "menu.my_devices": "See all my devices",
    "devices.not_opened": "Can't open your devices",
    "menu.quit": "Quit",
    "menu.last_checked": "Last checked {when}",

    # -- notifications ---------------------------------------------------------
    "notify.title_one": "Checkup: {title} needs your attention",
    "notify.title_many": "Checkup: {n} things need your attention",
    "notify.title_nudge_one": "Checkup: {title} is worth fixing",
    "notify.title_nudge_many": "Checkup: {n} things are worth fixing",
    "notify.more": "…and {n} more.",
    "notify.click_hint": "Click to see how to fix it.",
    "notify.menu_hint": "Open the Checkup icon in the menu bar to see how to fix it.",
    "notify.menu_hint_tray": "Open the Checkup icon in the system tray to see how to fix it.",
    "notify.fixed_title_one": "Checkup: {title} is fixed, thank you!",
    "notify.fixed_title_many": "Checkup: {n} things are fixed, thank you!",
    "notify.fixed_body": "Thanks for keeping this computer safe.",
    "notify.fixed_and_more": "Fixed, thank you: {titles}.",
    "notify.action_open": "Show me how",
    "notify.action_snooze": "Remind me tomorrow",
    "notify.action_settings": "Open Settings",

    # -- "I fixed it — check again" ---------------------------------------------
    "again.button": "I fixed it — check again",
    "again.checked_at": "Checked again at {when}: {words}",
    "again.fixed": "fixed, thank you!",
    "again.still": "not fixed yet. The steps below still apply.",
    "again.unknown": "Checkup could not check it this time.",
    "again.check_fixed": "{title} is fixed, thank you!",
    "again.check_still": "{title} is not fixed yet. The steps on its page still apply.",
    "again.check_unknown": "Checkup could not check {title} this time.",
    "again.report_pass": "everything looks good, thank you!",
    "again.report_still": "some things still need fixing.",
    "again.pending": "Checkup checks again in a few minutes; this page updates by itself.",
    "again.checking": "Checking again…",
    "again.checking_body": "This takes a few seconds. This page shows the result by itself.",
    "again.back": "Go back to the fix page (your browser's Back button): it shows the new result too.",
    "again.expired": "This link is from an earlier start of Checkup. Open the Checkup icon and choose Check now.",

    # -- pages -------------------------------------------------------------------
    "page.title": "{title} — Checkup",
    "page.report_title": "Checkup report for {hostname}",
    "page.report_heading": "Security checkup",
    "page.back": "← All checks",
    "page.why": "Why it matters",
    "page.steps": "How to fix it",
    "page.open_settings": "Open the setting",
    "page.open_settings_note": "If the button does nothing, follow the path: {path}",
    "page.menu_path": "Where to find it: {path}",
    "page.run_command": "Or run this in a terminal:",
    "page.needs_it": "This one needs your IT team: you cannot change it yourself.",
    "page.last_checked": "Last checked {when} on {hostname}.",
    "page.observed": "What Checkup saw",
    # labels and values of "What Checkup saw"
    "observed.state": "State",
    "observed.enabled": "Turned on",
    "observed.stealth": "Stealth mode",
    "observed.profiles": "Networks",
    "observed.backend": "Firewall program",
    "observed.idle_seconds": "Locks after inactivity of",
    "observed.lock_delay_seconds": "Then asks for the password after",
    "observed.name": "System",
    "observed.version": "Version",
    "observed.build": "Build",
    "observed.rsr": "Rapid Security Response",
    "observed.display_version": "Release",
    "observed.id": "Distribution",
    "observed.complete": "Every update setting on",
    "observed.settings_off": "Settings that are off",
    "observed.sip": "System Integrity Protection",
    "observed.uac": "User Account Control",
    "observed.secure_boot": "Secure Boot",
    "observed.products": "Antivirus",
    "observed.required": "Required",
    "observed.running": "Running",
    "observed.missing": "Not running",
    "observed.firewall.enabled": "Firewall on",
    "observed.gatekeeper.enabled": "Gatekeeper on",
    "observed.remote_login.enabled": "Remote login on",
    "observed.automatic_updates.enabled": "Automatic updates on",
    "observed.screen_lock.enabled": "Locks by itself",
    "observed.family": "Linux family",
    "observed.updater": "Update tool",
    "observed.encryptable": "This edition can encrypt the disk",
    "observed.edition": "Edition",
    "observed.end_of_life": "Security fixes have ended",
    "observed.support_ends": "Security fixes until",
    "observed.found": "Found",
    "setting.AutomaticCheckEnabled": "Check for updates",
    "setting.AutomaticDownload": "Download new updates",
    "setting.AutomaticallyInstallMacOSUpdates": "Install macOS updates",
    "setting.CriticalUpdateInstall": "Install security responses and system files",
    "value.yes": "Yes",
    "value.no": "No",
    "value.none": "none",
    "value.never": "never",
    "value.immediately": "immediately",
    "value.seconds": "{n} seconds",
    "value.minutes": "{n} minutes",
    "value.on": "on",
    "value.off": "off",
    "value.up_to_date": "up to date",
    "value.out_of_date": "out of date",
    "page.no_fix": "Checkup has no step-by-step instructions for this one yet. Your IT team can help.",
    "page.passing": "Nothing to do here.",
    "page.skip": "This check does not apply to this computer.",
    "page.unknown": "Checkup could not read this setting on this computer, so it does not know "
                    "whether it is on or off. This is not counted against you.",
    "page.unknown_heading": "What Checkup could not read",
    "page.unknown_todo_heading": "What you can do",
    "page.unknown_todo": "Nothing for now: IT will look into it. Checkup checks again by itself.",
    "page.unknown_look": "If you want to look yourself, it is in {path}.",
    "page.open_command": "Or open it with this command in a terminal:",
    "page.not_here": "Not on this computer ({n})",
    "cli.report_page": "Details and how to fix each one:",
    "cli.fix_page": "The same on a page:",
    "cli.link": "Open the setting: {link}",
    "page.help_heading": "Need help?",
    "page.help_contact": "Contact {name}",
    "page.help_default": "Ask your IT team if you get stuck.",
    "page.checks_heading": "All checks",
    "page.col_check": "Check",
    "page.col_status": "Status",
    "page.col_detail": "Details",
    "page.open_fix": "How to fix",
    "page.details": "Details",
    "page.device": "{os} on {hostname}",
    "page.footer": "Made by Checkup {version}. This page was written on this computer and works offline.",

    # -- about & privacy -------------------------------------------------------------
    "about.title": "About Checkup & your privacy",
    "about.intro": "Checkup looks at this computer's security settings and tells you how to fix what "
                   "needs fixing. It never changes a setting by itself and needs no administrator rights.",
    "about.reads_heading": "What Checkup reads",
    "about.reads": "Disk encryption, firewall, screen lock, the operating system version and updates, "
                   "system integrity protection, remote login, and whether the security software your "
                   "company requires is running. It also reads this computer's name, model, serial "
                   "number and hardware ID, the built-in addresses of its network adapters, and the "
                   "names of running programs (only to look for the required security software). It "
                   "does not read your files, messages, browsing or passwords.",
    "about.sends_heading": "What Checkup sends, and to whom",
    "about.sends_nothing": "Nothing. No server is configured, so the results stay on this computer.",
    "about.sends_server": "The results of the checks (what each setting is, and how to fix it), the "
                          "system version, and this computer's name, model, serial number, hardware ID "
                          "and network adapter addresses are sent to {org} at {server}, so IT can help "
                          "keep the company's computers safe. The list of running programs is never "
                          "sent: only which of the required security programs are running.",
    "about.org_default": "your company's IT team",
    "about.stored_heading": "What Checkup keeps on this computer",
    "about.stored": "The latest results and when you were last reminded, in {path}.",
    "about.version": "Checkup {version}",

    # -- time ---------------------------------------------------------------------------
    "when.never": "not yet",
}


def t(key: str, **fields) -> str:
    """The string for ``key`` with ``fields`` filled in (the key itself if unknown)."""
    text = STRINGS.get(key, key)
    return text.format(**fields) if fields else text


def tn(key: str, n: int, **fields) -> str:
    """``key_one`` when n == 1, else ``key_many``; ``n`` is passed as a field."""
    return t(f"{key}_{'one' if n == 1 else 'many'}", n=n, **fields)


def _counts(report: dict) -> tuple[int, int, int]:
    checks = report.get("checks") or []
    count = lambda st: sum(1 for c in checks if c.get("status") == st)  # noqa: E731
    return count("fail"), count("nudge"), count("unknown")


def device_words(report: dict) -> str:
    """The device's state in one or two sentences; what could not be checked is
    always said, so "nothing to fix" never hides a check that was not read."""
    status = report.get("status") or "unknown"
    fails, nudges, unknowns = _counts(report)
    if status == "checking":
        return t("device.checking")
    if status == "pass":
        return tn("device.pass_partial", unknowns) if unknowns else t("device.pass")
    if status in ("fail", "nudge"):
        words = tn("device.fail", fails + nudges) if status == "fail" else tn("device.nudge", nudges)
        return f"{words} {tn('device.also_unknown', unknowns)}" if unknowns else words
    return t("device.unknown")


def tooltip_words(report: dict | None, checking: bool = False) -> str:
    if report is None:
        return t("tooltip.checking") if checking else t("tooltip.unknown")
    status = report.get("status")
    fails, nudges, unknowns = _counts(report)
    if status == "fail":
        return tn("tooltip.fail", fails + nudges)
    if status == "nudge":
        return tn("tooltip.nudge", nudges)
    if status == "pass":
        return tn("tooltip.pass_partial", unknowns) if unknowns else t("tooltip.pass")
    return t("tooltip.unknown")
