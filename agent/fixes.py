"""Fix instructions as data: what an employee does to fix each check, per OS and release.

Every employee-facing word of the fixes lives in this module (titles, reasons, steps,
hints, menu paths), so the product can be translated from one place. The deep links and
menu paths follow the researched table (one entry per check x OS release): the link is
chosen by the OS release, never by trying one link after another, because macOS opens
any unknown settings pane as "General" without an error. The written menu path always
goes with the link so a dead link still leaves the person able to get there.

    fix_for(check_id, platform, os_version, desktop=..., observed=...) -> dict

never raises: an unknown check, platform or a garbage version gives a usable answer.
"""
from __future__ import annotations

import re
from typing import Any

from . import checks as _registry

# --------------------------------------------------------------------------------------
# Identity: titles, reasons, which checks exist where
# --------------------------------------------------------------------------------------

# Which checks exist, their titles and platforms: the registry (agent/checks/<id>/check.toml).
CHECK_TITLES: dict[str, str] = _registry.titles()
PLATFORM_CHECKS: dict[str, tuple[str, ...]] = {p: _registry.on_platform(p) for p in _registry.PLATFORMS}

# Schemes a fix page may put behind a button (DEEPLINKS §4). Everything else is a command.
LINK_SCHEMES: tuple[str, ...] = (
    "x-apple.systempreferences:", "ms-settings:", "windowsdefender:", "macappstore:")

_WHY: dict[str, str] = {
    "disk_encryption": "If your laptop is lost or stolen, encryption keeps your files unreadable to whoever finds it.",
    "firewall": "The firewall blocks unwanted connections from other devices, for example on public Wi-Fi.",
    "screen_lock": "A screen that locks itself stops anyone nearby from using your computer when you step away.",
    "os_version": "Newer system versions close security holes that attackers already know about.",
    "automatic_updates": "Automatic updates install security fixes quickly, without you having to remember.",
    "system_integrity": "This built-in protection stops harmful software from changing the core of your system.",
    "remote_login": "Remote login lets others try to sign in to your computer over the network, so keep it off unless you need it.",
    "gatekeeper": "Gatekeeper checks that apps come from trusted developers before they open.",
    "antivirus": "Antivirus catches harmful files and programs before they can do damage.",
    "security_software": "The company's security tools help IT protect your computer and spot problems early.",
}
_WHY_PLATFORM: dict[tuple[str, str], str] = {
    ("system_integrity", "darwin"): "System Integrity Protection stops harmful software from changing the core of macOS.",
    ("system_integrity", "windows"): "User Account Control and Secure Boot stop harmful software from taking over Windows.",
    ("system_integrity", "linux"): "Secure Boot makes sure only trusted software runs when your computer starts.",
}
_WHY_GENERIC = "This setting helps keep your computer and the company's data safe."

# Phrases used by the tailoring code below.
_P: dict[str, str] = {
    "lock_sooner": "Make the screen lock sooner: {menu}.",
    "lock_sooner_anywhere": "your screen lock settings",
    "not_applicable_hint": "Nothing to do for this on this computer.",
    "your_device.darwin": "your Mac",
    "your_device.windows": "your PC",
    "your_device.linux": "your computer",
    "your_device.other": "your computer",
    "admin_denied.windows": "Contact IT if Windows asks for an administrator password you don't have.",
    "admin_denied.darwin": "Contact IT if your Mac asks for an administrator name and password you don't have.",
    "and": "and",
    "generic_step": "Contact IT if you are not sure how to fix this.",
}

# --------------------------------------------------------------------------------------
# macOS (DEEPLINKS §1). Band keys: "old" = 10.13 and earlier, "12" = 10.14-12 (System
# Preferences), "13", "14", "15", "26" (System Settings). An entry given for a band is used
# from that release on, until the next band given.
# --------------------------------------------------------------------------------------

_X = "x-apple.systempreferences:"
_MAC_BANDS = ("old", "12", "13", "14", "15", "26")
_MAC_CURRENT = "26"

_OPEN_SP = 'Open the Apple menu and choose "System Preferences".'
_OPEN_SS = 'Open the Apple menu and choose "System Settings".'
_MAC_KEEP_KEY = "Keep any recovery key you are shown somewhere safe (not on this Mac), or follow IT's guidance."
_MAC_KEEP_WORKING = "Keep your Mac plugged in; it encrypts in the background while you work."

_MAC_UPDATES_13 = {
    # Automatic updates on macOS 13 and 14 (no anchor before 15); 15+ differs only by its link.
    "link": _X + "com.apple.Software-Update-Settings.extension",
    "menu_path": "System Settings > General > Software Update > Automatic updates",
    "steps": [_OPEN_SS,
              'Click "General", then "Software Update".',
              'Click the info button (i) next to "Automatic updates".',
              'Turn on {switches}, then click "Done".',
              "Enter your Mac password if asked."],
    "hint": "Turn on automatic updates in System Settings > General > Software Update.",
    "switches": {"AutomaticCheckEnabled": "Check for updates",
                 "AutomaticDownload": "Download new updates when available",
                 "AutomaticallyInstallMacOSUpdates": "Install macOS updates",
                 "CriticalUpdateInstall": "Install Security Responses and system files"},
}


_MAC: dict[str, dict[str, dict[str, Any]]] = {
    "disk_encryption": {
        "12": {
            "link": _X + "com.apple.preference.security?FDE",
            "menu_path": "Apple menu > System Preferences > Security & Privacy > FileVault",
            "steps": [_OPEN_SP,
                      'Click "Security & Privacy", then the "FileVault" tab.',
                      "Click the lock at the bottom left and enter your Mac password.",
                      'Click "Turn On FileVault…" and follow the prompts.',
                      _MAC_KEEP_KEY, _MAC_KEEP_WORKING],
            "hint": "Turn on FileVault in System Preferences > Security & Privacy > FileVault.",
        },
        "13": {
            # No FileVault anchor on 13: the Security section of Privacy & Security.
            "link": _X + "com.apple.settings.PrivacySecurity.extension?Security",
            "menu_path": "Apple menu > System Settings > Privacy & Security > FileVault",
            "steps": [_OPEN_SS,
                      'Click "Privacy & Security" in the sidebar, then scroll down to "Security".',
                      'Click "Turn On…" next to "FileVault" and enter your Mac password.',
                      "Follow the prompts.",
                      _MAC_KEEP_KEY, _MAC_KEEP_WORKING],
            "hint": "Turn on FileVault in System Settings > Privacy & Security.",
        },
        "14": {
            "link": _X + "com.apple.settings.PrivacySecurity.extension?FileVault",
            "menu_path": "System Settings > Privacy & Security > FileVault",
            "steps": [_OPEN_SS,
                      'Click "Privacy & Security" in the sidebar, scroll down and click "FileVault".',
                      'Click "Turn On…" and enter your Mac password.',
                      "Follow the prompts.",
                      _MAC_KEEP_KEY, _MAC_KEEP_WORKING],
            "hint": "Turn on FileVault in System Settings > Privacy & Security > FileVault.",
        },
    },
    "firewall": {
        "12": {
            "link": _X + "com.apple.preference.security?Firewall",
            "menu_path": "Apple menu > System Preferences > Security & Privacy > Firewall",
            "steps": [_OPEN_SP,
                      'Click "Security & Privacy", then the "Firewall" tab.',
                      "Click the lock at the bottom left and enter your Mac password.",
                      'Click "Turn On Firewall".'],
            "hint": "Turn on the firewall in System Preferences > Security & Privacy > Firewall.",
        },
        "13": {
            # The ?Firewall anchor is reported not to open the sub-page on 13+: link the
            # Network pane and say "click Firewall" (DEEPLINKS §1, §6.1).
            "link": _X + "com.apple.Network-Settings.extension",
            "menu_path": "System Settings > Network > Firewall",
            "steps": [_OPEN_SS,
                      'Click "Network" in the sidebar, then click "Firewall".',
                      'Turn on the "Firewall" switch and enter your Mac password if asked.'],
            "hint": "Turn on the firewall in System Settings > Network > Firewall.",
        },
    },
    "screen_lock": {
        "12": {
            "link": _X + "com.apple.preference.security?General",
            "menu_path": "System Preferences > Security & Privacy > General",
            "steps_password": [_OPEN_SP,
                               'Click "Security & Privacy", then the "General" tab.',
                               'Tick "Require password … after sleep or screen saver begins" and choose "immediately".'],
            # The screen saver pane has no working link on 12 and earlier: open the prefPane file.
            "idle_open": ["/usr/bin/open", "/System/Library/PreferencePanes/DesktopScreenEffectsPref.prefPane"],
            "idle_menu_path": "System Preferences > Desktop & Screen Saver > Screen Saver",
            "steps_idle": ['Open "Desktop & Screen Saver" in System Preferences, then click "Screen Saver".',
                           'Set "Start after" to {minutes} minutes or less.'],
            "hint": "Turn on the password after sleep in System Preferences > Security & Privacy.",
            "hint_idle": "Set the screen saver to start after {minutes} minutes in System Preferences.",
        },
        "13": {
            "link": _X + "com.apple.Lock-Screen-Settings.extension",
            "menu_path": "System Settings > Lock Screen",
            "steps_password": [_OPEN_SS,
                               'Click "Lock Screen" in the sidebar.',
                               'Set "Require password after screen saver begins or display is turned off" to "Immediately".'],
            "steps_idle": ['Set "Start Screen Saver when inactive" to {minutes} minutes or less.',
                           'Set "Turn display off on battery when inactive" and "…on power adapter when inactive" to {minutes} minutes or less.'],
            "hint": "Set your Mac to lock itself in System Settings > Lock Screen.",
        },
        "26": {
            # "Start Screen Saver when inactive" is no longer on Lock Screen in 26; the display
            # timers still are, and they lock the screen just as well.
            "link": _X + "com.apple.Lock-Screen-Settings.extension",
            "menu_path": "System Settings > Lock Screen",
            "steps_password": [_OPEN_SS,
                               'Click "Lock Screen" in the sidebar.',
                               'Set "Require password after screen saver begins or display is turned off" to "Immediately".'],
            "steps_idle": ['Set "Turn display off on battery when inactive" and "…on power adapter when inactive" to {minutes} minutes or less.'],
            "hint": "Set your Mac to lock itself in System Settings > Lock Screen.",
        },
    },
    "os_version": {
        "old": {
            "link": "macappstore://showUpdatesPage",
            "menu_path": "App Store > Updates",
            "steps": ['Open the "App Store" app and click "Updates".',
                      "Install the macOS update that is offered and restart when asked.",
                      "Contact IT if no newer macOS is offered: your Mac may be too old for it."],
            "hint": "Update macOS from the App Store > Updates.",
        },
        "12": {
            "link": _X + "com.apple.preferences.softwareupdate",
            "menu_path": "Apple menu > System Preferences > Software Update",
            "steps": [_OPEN_SP,
                      'Click "Software Update".',
                      'Click "Upgrade Now" or "Update Now" and follow the prompts.',
                      "Save your work and restart when asked.",
                      "Contact IT if no newer macOS is offered: your Mac may be too old for it."],
            "hint": "Update macOS in System Preferences > Software Update.",
        },
        "13": {
            "link": _X + "com.apple.Software-Update-Settings.extension",
            "menu_path": "System Settings > General > Software Update",
            "steps": [_OPEN_SS,
                      'Click "General", then "Software Update".',
                      'Click "Update Now" or "Upgrade Now" and follow the prompts.',
                      "Save your work and restart when asked.",
                      "Contact IT if no newer macOS is offered: your Mac may be too old for it."],
            "hint": "Update macOS in System Settings > General > Software Update.",
        },
    },
    "automatic_updates": {
        "old": {
            "link": None,
            "menu_path": "Apple menu > System Preferences > App Store",
            "steps": [_OPEN_SP,
                      'Click "App Store".',
                      "Tick {switches}."],
            "hint": "Turn on automatic updates in System Preferences > App Store.",
            "switches": {"AutomaticCheckEnabled": "Automatically check for updates",
                         "AutomaticDownload": "Download newly available updates in the background",
                         "AutomaticallyInstallMacOSUpdates": "Install macOS updates",
                         "CriticalUpdateInstall": "Install system data files and security updates"},
        },
        "12": {
            "link": _X + "com.apple.preferences.softwareupdate",
            "menu_path": "Apple menu > System Preferences > Software Update > Advanced…",
            "steps": [_OPEN_SP,
                      'Click "Software Update" and tick "Automatically keep my Mac up to date".',
                      'Click "Advanced…".',
                      'Tick {switches}, then click "OK".'],
            "hint": "Turn on automatic updates in System Preferences > Software Update.",
            "switches": {"AutomaticCheckEnabled": "Check for updates",
                         "AutomaticDownload": "Download new updates when available",
                         "AutomaticallyInstallMacOSUpdates": "Install macOS updates",
                         "CriticalUpdateInstall": "Install system data files and security updates"},
        },
        "13": _MAC_UPDATES_13,
        # From 15 the link opens the Automatic Updates sheet itself.
        "15": {**_MAC_UPDATES_13,
               "link": _X + "com.apple.Software-Update-Settings.extension?action=showAdvancedOptions"},
    },
    "system_integrity": {
        "12": {
            # No settings pane: only macOS Recovery can turn SIP back on.
            "link": None,
            "menu_path": None,
            "needs_it": True,
            "steps": ["Contact IT: System Integrity Protection can only be turned back on by starting your Mac in Recovery.",
                      'Do this only if IT asks you to: on a Mac with Apple silicon, shut down, then hold the power button until "Loading startup options" appears.',
                      'Click "Options", then "Continue", and pick your user if asked.',
                      "Restart an Intel Mac instead while holding Command (⌘) and R until the Apple logo appears.",
                      'Choose "Utilities" > "Terminal" from the menu bar, type csrutil enable and press Return.',
                      "Restart your Mac."],
            "hint": "Contact IT to turn System Integrity Protection back on (needs Recovery).",
        },
    },
    "gatekeeper": {
        "12": {
            "link": _X + "com.apple.preference.security?General",
            "menu_path": "System Preferences > Security & Privacy > General",
            "steps": [_OPEN_SP,
                      'Click "Security & Privacy", then the "General" tab.',
                      "Click the lock at the bottom left and enter your Mac password.",
                      'Choose "App Store and identified developers" under "Allow apps downloaded from".'],
            "hint": "Allow only trusted apps in System Preferences > Security & Privacy > General.",
        },
        "13": {
            "link": _X + "com.apple.settings.PrivacySecurity.extension?Security",
            "menu_path": "System Settings > Privacy & Security > Security",
            "steps": [_OPEN_SS,
                      'Click "Privacy & Security" in the sidebar, then scroll down to "Security".',
                      'Choose "App Store and identified developers" under "Allow applications downloaded from".',
                      "Enter your Mac password if asked."],
            "hint": "Allow only trusted apps in System Settings > Privacy & Security.",
        },
        "15": {
            "link": _X + "com.apple.settings.PrivacySecurity.extension?Security",
            "menu_path": "System Settings > Privacy & Security > Security",
            "steps": [_OPEN_SS,
                      'Click "Privacy & Security" in the sidebar, then scroll down to "Security".',
                      'Choose "App Store & Known Developers" under "Allow applications from".',
                      "Enter your Mac password if asked."],
            "hint": "Allow only trusted apps in System Settings > Privacy & Security.",
        },
    },
    "remote_login": {
        "12": {
            "link": _X + "com.apple.preferences.sharing?Services_RemoteLogin",
            "menu_path": "Apple menu > System Preferences > Sharing > Remote Login",
            "steps": [_OPEN_SP,
                      'Click "Sharing". If the lock at the bottom left is closed, click it and enter your Mac password.',
                      'Untick "Remote Login".',
                      "Ask IT about an exception if you need Remote Login for your work."],
            "hint": "Turn off Remote Login in System Preferences > Sharing.",
        },
        "13": {
            "link": _X + "com.apple.Sharing-Settings.extension?Services_RemoteLogin",
            "menu_path": "System Settings > General > Sharing > Remote Login",
            "steps": [_OPEN_SS,
                      'Click "General", then "Sharing".',
                      'Turn off "Remote Login" and enter your Mac password if asked.',
                      "Ask IT about an exception if you need Remote Login for your work."],
            "hint": "Turn off Remote Login in System Settings > General > Sharing.",
        },
        "26": {
            "link": _X + "com.apple.Sharing-Settings.extension?Services_RemoteLogin",
            "menu_path": "System Settings > General > Sharing > Advanced > Remote Login",
            "menu_path_any": "System Settings > General > Sharing > Remote Login",
            "steps": [_OPEN_SS,
                      'Click "General", then "Sharing".',
                      'Turn off "Remote Login" under "Advanced" and enter your Mac password if asked.',
                      "Ask IT about an exception if you need Remote Login for your work."],
            "hint": "Turn off Remote Login in System Settings > General > Sharing.",
        },
    },
}

# --------------------------------------------------------------------------------------
# Windows (DEEPLINKS §2). Band keys "10", "11" (build >= 22000).
# --------------------------------------------------------------------------------------

_WIN_BANDS = ("10", "11")
_WIN_CURRENT = "11"
_OPEN_WIN_SETTINGS = 'Open Start and choose "Settings".'
_BITLOCKER_OPEN = ["control.exe", "/name", "Microsoft.BitLockerDriveEncryption"]
_WIN_KEY = "Save the recovery key where IT tells you (often your work account), not on this PC."
_WIN_KEEP_WORKING = "Keep working as normal; encryption runs in the background."

_WIN: dict[str, dict[str, dict[str, Any]]] = {
    "disk_encryption": {
        "10": {
            "link": "ms-settings:deviceencryption",
            "menu_path": "Settings > Update & Security > Device encryption",
            "menu_path_any": "Settings > Device encryption",
            "steps": [_OPEN_WIN_SETTINGS,
                      'Click "Update & Security", then "Device encryption", and turn it on.',
                      'If you don\'t see "Device encryption", search Start for "Manage BitLocker", open it and click "Turn on BitLocker" next to drive C:.',
                      _WIN_KEY, _WIN_KEEP_WORKING],
            "hint": "Turn on encryption in Settings > Update & Security > Device encryption.",
        },
        "11": {
            "link": "ms-settings:deviceencryption",
            "menu_path": "Settings > Privacy & security > Device encryption",
            "menu_path_any": "Settings > Device encryption",
            "steps": [_OPEN_WIN_SETTINGS,
                      'Click "Privacy & security", then "Device encryption", and turn it on.',
                      'If you don\'t see "Device encryption", search Start for "Manage BitLocker", open it and click "Turn on BitLocker" next to drive C:.',
                      _WIN_KEY, _WIN_KEEP_WORKING],
            "hint": "Turn on encryption in Settings > Privacy & security > Device encryption.",
        },
    },
    # BitLocker (Pro, Enterprise, Education): the Control Panel item, a command only.
    "disk_encryption.bitlocker": {
        "10": {
            "link": None,
            "open": _BITLOCKER_OPEN,
            "menu_path": "Control Panel > System and Security > BitLocker Drive Encryption",
            "steps": ['Open Start, type "Manage BitLocker" and open it.',
                      'Click "Turn on BitLocker" next to drive C: and follow the prompts.',
                      _WIN_KEY, _WIN_KEEP_WORKING],
            "hint": "Turn on BitLocker: Start > type Manage BitLocker > Turn on BitLocker.",
        },
    },
    "disk_encryption.suspended": {
        "10": {
            "link": None,
            "open": _BITLOCKER_OPEN,
            "menu_path": "Control Panel > System and Security > BitLocker Drive Encryption",
            "steps": ['Open Start, type "Manage BitLocker" and open it.',
                      'Click "Resume protection" next to drive C:.'],
            "hint": "Resume BitLocker: Start > type Manage BitLocker > Resume protection.",
        },
    },
    "disk_encryption.not_encryptable": {
        "10": {
            "link": None,
            "menu_path": None,
            "needs_it": True,
            "steps": ["Contact IT: this PC cannot turn on encryption by itself with its current Windows edition or hardware.",
                      "Ask IT how to get this PC encrypted."],
            "hint": "Contact IT: this PC cannot turn on encryption by itself.",
        },
    },
    "firewall": {
        "10": {
            "link": "windowsdefender://network/",
            "menu_path": "Windows Security > Firewall & network protection",
            "steps": ['Open Start, type "Windows Security" and open it.',
                      'Click "Firewall & network protection".',
                      'Click {profiles} and turn on "Windows Defender Firewall".',
                      'Click "Yes" if Windows asks for permission.'],
            "hint": "Turn on the firewall in Windows Security > Firewall & network protection.",
        },
        "11": {
            "link": "windowsdefender://network/",
            "menu_path": "Windows Security > Firewall & network protection",
            "steps": ['Open Start, type "Windows Security" and open it.',
                      'Click "Firewall & network protection".',
                      'Click {profiles} and turn on "Microsoft Defender Firewall".',
                      'Click "Yes" if Windows asks for permission.'],
            "hint": "Turn on the firewall in Windows Security > Firewall & network protection.",
        },
    },
    "screen_lock": {
        "10": {
            "link": "ms-settings:lockscreen",
            "open": ["control.exe", "desk.cpl,,@screensaver"],
            "menu_path": "Settings > Personalization > Lock screen > Screen saver settings",
            "menu_path_any": "Settings > Personalization > Lock screen > Screen saver",
            "steps": [_OPEN_WIN_SETTINGS,
                      'Click "Personalization", then "Lock screen", then "Screen saver settings".',
                      'Choose a screen saver (for example "Blank") and set "Wait" to {minutes} minutes or less.',
                      'Tick "On resume, display logon screen" and click "OK".'],
            "hint": "Set a screen saver with sign-in in Settings > Personalization > Lock screen.",
        },
        "11": {
            "link": "ms-settings:lockscreen",
            "open": ["control.exe", "desk.cpl,,@screensaver"],
            "menu_path": "Settings > Personalization > Lock screen > Screen saver",
            "steps": [_OPEN_WIN_SETTINGS,
                      'Click "Personalization", then "Lock screen", then "Screen saver".',
                      'Choose a screen saver (for example "Blank") and set "Wait" to {minutes} minutes or less.',
                      'Tick "On resume, display logon screen" and click "OK".'],
            "hint": "Set a screen saver with sign-in in Settings > Personalization > Lock screen.",
        },
    },
    "os_version": {
        "10": {
            "link": "ms-settings:windowsupdate-action",
            "menu_path": "Settings > Update & Security > Windows Update",
            "menu_path_any": "Settings > Windows Update",
            "steps": [_OPEN_WIN_SETTINGS,
                      'Click "Update & Security", then "Windows Update".',
                      'Click "Check for updates", then install what is offered ("Download and install" or "Install now").',
                      'Save your work and click "Restart now" when asked.',
                      "Contact IT about moving to Windows 11 if your PC still runs Windows 10 afterwards."],
            "hint": "Install updates in Settings > Update & Security > Windows Update.",
            # Windows 10 past its end of support (observed end_of_life): updates alone don't fix it.
            "steps_ended": [_OPEN_WIN_SETTINGS,
                            'Click "Update & Security", then "Windows Update".',
                            'If "Upgrade to Windows 11" is offered, save your work and click "Download and install".',
                            "Contact IT if it is not offered: they can move you to a PC that runs Windows 11."],
            "hint_ended": "Move to Windows 11 from Settings > Update & Security > Windows Update, or ask IT.",
        },
        "11": {
            "link": "ms-settings:windowsupdate-action",
            "menu_path": "Settings > Windows Update",
            "steps": [_OPEN_WIN_SETTINGS,
                      'Click "Windows Update".',
                      'Click "Check for updates", then install what is offered ("Download & install" or "Install all").',
                      'Save your work and click "Restart now" when asked.',
                      "Contact IT if no newer version is offered."],
            "hint": "Install updates in Settings > Windows Update.",
        },
    },
    "automatic_updates": {
        # Checkup reads the update policy and service settings, which only an administrator
        # can change; meanwhile the person can still install updates by hand.
        "10": {
            "link": "ms-settings:windowsupdate",
            "menu_path": "Settings > Update & Security > Windows Update",
            "menu_path_any": "Settings > Windows Update",
            "needs_it": True,
            "steps": ["Contact IT: automatic updates are switched off by a setting on this PC that only IT can change.",
                      'Install updates by hand meanwhile: open Start > Settings > "Update & Security" > "Windows Update".',
                      'Click "Resume updates" if updates are paused, then "Check for updates" and install what is offered.'],
            "hint": "Contact IT to turn automatic updates back on; install updates meanwhile.",
        },
        "11": {
            "link": "ms-settings:windowsupdate",
            "menu_path": "Settings > Windows Update",
            "needs_it": True,
            "steps": ["Contact IT: automatic updates are switched off by a setting on this PC that only IT can change.",
                      'Install updates by hand meanwhile: open Start > Settings > "Windows Update".',
                      'Click "Resume updates" if updates are paused, then "Check for updates" and install what is offered.'],
            "hint": "Contact IT to turn automatic updates back on; install updates meanwhile.",
        },
    },
    "system_integrity": {
        "10": {
            "link": None,
            "menu_path": None,
            "needs_it": True,
            "steps_uac": ['Contact IT and tell them Checkup found that User Account Control (the "Do you want to allow…" prompt) is off.'],
            "steps_secure_boot": ["Contact IT and tell them Checkup found that Secure Boot is off.",
                                  "Expect a restart: IT turns Secure Boot on in the PC's startup (UEFI firmware) settings."],
            "steps_both": ["Contact IT and tell them Checkup found that User Account Control or Secure Boot is off."],
            "steps_end": ["Restart your PC when IT asks you to."],
            "hint_uac": "Contact IT to turn User Account Control back on.",
            "hint_secure_boot": "Contact IT to turn on Secure Boot (a startup setting).",
            "hint_both": "Contact IT to turn User Account Control and Secure Boot back on.",
        },
    },
    "remote_login": {
        "10": {
            "link": "ms-settings:remotedesktop",
            "menu_path": "Settings > System > Remote Desktop",
            "steps": [_OPEN_WIN_SETTINGS,
                      'Click "System", then "Remote Desktop".',
                      'Turn off "Enable Remote Desktop" and click "Confirm" if asked.',
                      "Ask IT about an exception if you need Remote Desktop for your work."],
            "hint": "Turn off Remote Desktop in Settings > System > Remote Desktop.",
        },
        "11": {
            "link": "ms-settings:remotedesktop",
            "menu_path": "Settings > System > Remote Desktop",
            "steps": [_OPEN_WIN_SETTINGS,
                      'Click "System", then "Remote Desktop".',
                      'Turn off "Remote Desktop" and click "Confirm" if asked.',
                      "Ask IT about an exception if you need Remote Desktop for your work."],
            "hint": "Turn off Remote Desktop in Settings > System > Remote Desktop.",
        },
    },
    "antivirus": {
        "10": {
            "link": "ms-settings:windowsdefender",
            "menu_path": "Settings > Update & Security > Windows Security > Virus & threat protection",
            "menu_path_any": "Windows Security > Virus & threat protection",
            "steps_open": ['Open Start, type "Windows Security" and open it.',
                           'Click "Virus & threat protection".'],
            "steps_enable": ['Click "Manage settings" under "Virus & threat protection settings" and turn on "Real-time protection".'],
            "steps_update": ['Click "Check for updates" under "Virus & threat protection updates".'],
            "steps_other": ['Open {name} and turn its protection on, or let it update.',
                            "Contact IT if you can't."],
            "steps_none": ["Contact IT: no antivirus is active on this PC.",
                           "Let IT turn Microsoft Defender back on or install the company's antivirus."],
            "hint": "Turn on virus protection in Windows Security > Virus & threat protection.",
            "hint_other": "Turn on or update {name}.",
            "hint_update": "Update virus protection in Windows Security > Virus & threat protection.",
            "hint_none": "Contact IT: no antivirus is active on this PC.",
        },
        "11": {
            "link": "ms-settings:windowsdefender",
            "menu_path": "Settings > Privacy & security > Windows Security > Virus & threat protection",
            "menu_path_any": "Windows Security > Virus & threat protection",
            "steps_open": ['Open Start, type "Windows Security" and open it.',
                           'Click "Virus & threat protection".'],
            "steps_enable": ['Click "Manage settings" under "Virus & threat protection settings" and turn on "Real-time protection".'],
            "steps_update": ['Click "Protection updates" under "Virus & threat protection updates", then "Check for updates".'],
            "steps_other": ['Open {name} and turn its protection on, or let it update.',
                            "Contact IT if you can't."],
            "steps_none": ["Contact IT: no antivirus is active on this PC.",
                           "Let IT turn Microsoft Defender back on or install the company's antivirus."],
            "hint": "Turn on virus protection in Windows Security > Virus & threat protection.",
            "hint_other": "Turn on or update {name}.",
            "hint_update": "Update virus protection in Windows Security > Virus & threat protection.",
            "hint_none": "Contact IT: no antivirus is active on this PC.",
        },
    },
}

_WIN_PROFILE_NAMES = {"domain": '"Domain network"', "private": '"Private network"', "public": '"Public network"'}
_WIN_ALL_PROFILES = "each network whose firewall is off"
# EditionID values: Home editions have device encryption only; these have BitLocker.
_WIN_HOME_EDITIONS = ("core", "corecountryspecific", "coresinglelanguage", "coren")
_WIN_BITLOCKER_EDITIONS = ("professional", "enterprise", "education", "professionaleducation",
                           "professionalworkstation", "enterprises", "professionaln", "enterprisen",
                           "educationn")

# --------------------------------------------------------------------------------------
# Linux (DEEPLINKS §3). No URL scheme: commands the agent runs, plus a command to paste.
# --------------------------------------------------------------------------------------

# Desktop version of each distribution release as shipped (for picking panel ids).
_UBUNTU_GNOME = {"20.04": 3.36, "20.10": 3.38, "21.04": 3.38, "21.10": 40, "22.04": 42, "22.10": 43,
                 "23.04": 44, "23.10": 45, "24.04": 46, "24.10": 47, "25.04": 48, "25.10": 49}
_UBUNTU_PLASMA = {"20.04": 5.18, "20.10": 5.19, "21.04": 5.21, "21.10": 5.22, "22.04": 5.24, "22.10": 5.25,
                  "23.04": 5.27, "23.10": 5.27, "24.04": 5.27, "24.10": 6.1, "25.04": 6.3, "25.10": 6.4}
_FEDORA_GNOME = {34: 40, 35: 41, 36: 42, 37: 43, 38: 44, 39: 45, 40: 46, 41: 47, 42: 48, 43: 49}
_DEBIAN_GNOME = {10: 3.30, 11: 3.38, 12: 43, 13: 48}
_DEBIAN_PLASMA = {10: 5.14, 11: 5.20, 12: 5.27, 13: 6.3}
_FEDORA_PLASMA = {**{n: 5.2 for n in range(36)}, **{n: 5.27 for n in range(36, 40)}, 40: 6.0}
# (desktop, distribution) -> (known releases, the version assumed for any newer release)
_DESKTOP_VERSIONS = {
    ("gnome", "ubuntu"): (_UBUNTU_GNOME, 49), ("kde", "ubuntu"): (_UBUNTU_PLASMA, 6.4),
    ("gnome", "fedora"): (_FEDORA_GNOME, 49), ("kde", "fedora"): (_FEDORA_PLASMA, 6.0),
    ("gnome", "debian"): (_DEBIAN_GNOME, 48), ("kde", "debian"): (_DEBIAN_PLASMA, 6.3),
}

_DISTRO_NAMES = {"ubuntu": "Ubuntu", "fedora": "Fedora", "debian": "Debian", None: "Linux"}
_TERMINAL = {"gnome": 'Open the "Terminal" app.', "kde": 'Open the "Konsole" terminal app.',
             None: "Open a terminal window."}
_PASTE = "Paste this command, press Enter and type your password when asked: {command}"
_PASTE_LONG = "Paste the command shown on this page, press Enter and type your password when asked."
_COMMAND_INLINE_MAX = 110

_LINUX_TEXT: dict[str, Any] = {
    "disk_encryption": {
        "needs_it": True,
        "steps": ["Contact IT: on Linux, disk encryption is switched on when the system is installed.",
                  "Let IT help you back up your files and set the computer up again with encryption on."],
        "hint": "Contact IT: turning on disk encryption means reinstalling with encryption on.",
    },
    "firewall": {
        "commands": {"ufw": "sudo ufw enable",
                     "ufw_install": "sudo apt install ufw && sudo ufw enable",
                     "firewalld": "sudo systemctl enable --now firewalld"},
        "kde_menu_path": "System Settings > Network > Firewall",
        "kde_steps": ['Open "System Settings", click "Network", then "Firewall".',
                      "Turn the firewall on and type your password when asked.",
                      'Run this in the "Konsole" app if there is no "Firewall" page: {command}'],
        "hint": "Turn on the firewall: run {command} in a terminal.",
        "hint_kde": "Turn on the firewall in System Settings > Network > Firewall.",
        "manual_steps": ["Contact IT: this computer's firewall is set up by hand ({backend}), so IT should turn it on."],
        "manual_hint": "Contact IT to turn on this computer's firewall.",
    },
    "screen_lock": {
        "gnome": {
            # (first GNOME version, open argv, menu path, extra first step)
            "bands": [
                (40, ["gnome-control-center", "lock"], "Settings > Privacy > Screen Lock", None),
                (43, ["gnome-control-center", "screen"], "Settings > Privacy > Screen", None),
                (45, ["gnome-control-center", "privacy"], "Settings > Privacy > Screen Lock", 'Click "Screen Lock".'),
                (46, ["gnome-control-center", "privacy", "screenlock"], "Settings > Privacy & Security > Screen Lock", None),
            ],
            "menu_path_any": "Settings > Privacy > Screen Lock",
            "steps_open": 'Open "Settings" and go to {menu}.',
            "steps": ['Turn on "Automatic Screen Lock" and set "Automatic Screen Lock Delay" to "Screen Turns Off".',
                      'Set "Blank Screen Delay" to {minutes} minutes or less.'],
            "hint": "Turn on Automatic Screen Lock in {menu}.",
        },
        "kde": {
            "menu_path_5": "System Settings > Workspace Behavior > Screen Locking",
            "menu_path_6": "System Settings > Security & Privacy > Screen Locking",
            "menu_path_any": "System Settings > Screen Locking",
            "steps_open": 'Open "System Settings" and go to {menu}.',
            "steps": ['Turn on "Lock screen automatically" and set it to {minutes} minutes or less.',
                      'Turn on "Lock after waking from sleep", then click "Apply".'],
            "hint": "Turn on automatic screen locking in {menu}.",
        },
        "generic": {
            "steps": ["Open your desktop's Settings app.",
                      'Find the screen lock settings (often under "Privacy" or "Security").',
                      "Turn on automatic screen lock after {minutes} minutes or less."],
            "hint": "Turn on automatic screen lock after {minutes} minutes in your desktop settings.",
        },
    },
    "os_version": {
        "steps": ["Save your work and back up important files.",
                  'Open "{tool}" and install all waiting updates, then restart.',
                  "Install a newer {distro} version the same way if one is offered.",
                  "Contact IT if none is offered: moving to a new release may need their help."],
        "tools": {("ubuntu", "gnome"): "Software Updater", ("ubuntu", "kde"): "Discover",
                  ("ubuntu", None): "Software Updater", ("fedora", "gnome"): "Software",
                  ("fedora", "kde"): "Discover", ("debian", "gnome"): "Software",
                  ("debian", "kde"): "Discover", (None, "gnome"): "Software", (None, "kde"): "Discover"},
        "tool_default": "your system's update tool",
        "hint": "Install system updates and upgrade {distro}; contact IT if no upgrade is offered.",
    },
    "automatic_updates": {
        "commands": {"debian": "sudo apt install unattended-upgrades && sudo dpkg-reconfigure -plow unattended-upgrades",
                     "fedora_dnf4": "sudo dnf install -y dnf-automatic && sudo systemctl enable --now dnf-automatic-install.timer",
                     "fedora_dnf5": "sudo dnf install -y dnf5-plugin-automatic && printf '[commands]\\napply_updates = yes\\n' | sudo tee /etc/dnf/automatic.conf && sudo systemctl enable --now dnf5-automatic.timer",
                     "yum_cron": "sudo yum install -y yum-cron && sudo sed -i 's/^apply_updates = no/apply_updates = yes/' /etc/yum/yum-cron.conf && sudo systemctl enable --now yum-cron",
                     "arch": "sudo pacman -Syu"},
        "ubuntu_gnome_open": ["software-properties-gtk", "--open-tab=2"],
        "ubuntu_gnome_menu_path": "Software & Updates > Updates",
        "ubuntu_gnome_steps": ['Open "Software & Updates" and click the "Updates" tab.',
                               'Set "When there are security updates" to "Download and install automatically".',
                               "Type your password when asked, then close the window."],
        "ubuntu_gnome_hint": "Turn on automatic security updates in Software & Updates > Updates.",
        "debian_steps_end": 'Choose "Yes" when asked "Automatically download and install stable updates?".',
        "hint": "Turn on automatic security updates: run the command shown in a terminal.",
        "generic_steps": ["Turn on automatic security updates in your system's software update settings.",
                          "Contact IT if you can't find them."],
        "generic_hint": "Turn on automatic security updates, or ask IT how to on this system.",
        "arch_steps_end": ['Press Enter when asked "Proceed with installation?", then restart the computer.',
                           "Do this at least once a week: Arch Linux doesn't install updates by itself."],
        "arch_hint": "Arch Linux doesn't install updates by itself: run sudo pacman -Syu at least once a week.",
    },
    "system_integrity": {
        "needs_it": True,
        "steps": ["Contact IT and tell them Checkup found that Secure Boot is off.",
                  "Expect a restart: IT turns Secure Boot on in the computer's startup (UEFI firmware) settings."],
        "gnome_bands": [
            (43, ["gnome-control-center", "firmware-security"], "Settings > Privacy > Device Security"),
            (45, ["gnome-control-center", "privacy"], "Settings > Privacy > Device Security"),
            (46, ["gnome-control-center", "privacy", "device-security"], "Settings > Privacy & Security > Device Security"),
        ],
        "gnome_step": "See the Secure Boot status in {menu}.",
        "hint": "Contact IT to turn on Secure Boot (a startup setting).",
    },
    "remote_login": {
        "commands": {"debian": "sudo systemctl disable --now ssh.socket ssh",
                     "fedora": "sudo systemctl disable --now sshd",
                     None: "sudo systemctl disable --now sshd"},
        "gnome_bands": [
            (40, ["gnome-control-center", "sharing"], "Settings > Sharing > Remote Login",
             'Turn off "Remote Login".'),
            (46, ["gnome-control-center", "system"], "Settings > System > Secure Shell",
             'Click "Secure Shell" and turn it off.'),
        ],
        "gnome_steps_open": 'Open "Settings" and go to {menu}.',
        "or_command": "Run this in the Terminal app if it stays on: {command}",
        "exception": "Ask IT about an exception if you need remote login (SSH) for your work.",
        "hint": "Turn off remote login (SSH): run {command} in a terminal.",
        "hint_gnome": "Turn off remote login in {menu}.",
    },
}

# --------------------------------------------------------------------------------------
# Platform-independent: security_software and the "not on this platform" answer.
# --------------------------------------------------------------------------------------

_SECURITY_SOFTWARE = {
    "restart": {"darwin": 'Save your work, then choose Apple menu > "Restart…".',
                "windows": 'Save your work, then choose Start > Power > "Restart".',
                "linux": "Save your work and restart your computer.",
                "other": "Save your work and restart your computer."},
    "steps": ['Wait a few minutes after signing in, then choose "Check now" in the Checkup menu.',
              "Contact IT if {names} still shows as missing, and tell them what Checkup shows."],
    "names_default": "the company's security software",
    "hint": "Restart {device}; if {names} is still missing, contact IT.",
    "hint_short": "Restart {device}; if it is still missing, contact IT.",
}

# Disk encryption already changing state (encrypting: nudge; decrypting: being turned off).
_ENC_NAME = {"darwin": "FileVault", "windows": "BitLocker", "linux": "disk encryption",
             "other": "disk encryption"}
_ENC_STATES = {
    "encrypting": {
        "steps": ["Keep {device} plugged in and switched on: {name} is already encrypting the disk.",
                  "Check the progress in {menu}.",
                  "Wait: this check turns green when encryption has finished."],
        "hint": "Encryption is in progress: keep {device} plugged in.",
    },
    "decrypting": {
        "steps": ["Wait until {name} has finished turning off (see {menu}).",
                  "Turn it on again with the steps below.",
                  "Tell IT if you did not turn {name} off yourself."],
        "hint": "{name} is being turned off: turn it back on when that finishes.",
    },
}

_NOT_APPLICABLE_WHY = "This check does not apply to this kind of computer."
_DEFAULT_MINUTES = 5

# --------------------------------------------------------------------------------------
# Version parsing (never raises)
# --------------------------------------------------------------------------------------


def _numbers(version: Any) -> list[int]:
    if not isinstance(version, str):
        return []
    head = re.match(r"\s*(\d+(?:\.\d+)*)", version)
    if not head:
        return []
    try:
        return [int(p) for p in head.group(1).split(".")]
    except ValueError:
        return []


def _mac_band(version: Any) -> str | None:
    """The macOS band for a ProductVersion, or None when unknown."""
    nums = _numbers(version)
    if not nums:
        return None
    major = nums[0]
    if major == 10:
        minor = nums[1] if len(nums) > 1 else 0
        return "old" if minor < 14 else "12"
    if major in (11, 12):
        return "12"
    if major in (13, 14, 15):
        return str(major)
    if major >= 26 and major < 100:
        return "26"
    return None  # 1-9, 16-25, absurd numbers: not a real macOS version


def _win_band(version: Any) -> str | None:
    """"10" or "11" from 10.0.<build>[.<ubr>] (build >= 22000 is Windows 11), None when unknown."""
    nums = _numbers(version)
    if len(nums) >= 3 and nums[0] == 10 and nums[1] == 0:
        build = nums[2]
        if build >= 22000:
            return "11"
        if build >= 10240:
            return "10"
    return None


def _pick(table: dict[str, Any], bands: tuple[str, ...], band: str) -> dict[str, Any]:
    """The entry that applies to ``band``: the latest one given at or before it."""
    i = bands.index(band)
    for b in reversed(bands[: i + 1]):
        if b in table:
            return table[b]
    for b in bands[i + 1:]:
        if b in table:
            return table[b]
    raise KeyError(band)


def _linux_distro(version: Any, observed: dict) -> str | None:
    hint = str(observed.get("id") or observed.get("distro") or "").lower()
    if hint in ("ubuntu", "fedora", "debian"):
        return hint
    if hint in ("pop", "linuxmint", "elementary", "zorin", "neon"):
        return None
    if not isinstance(version, str):
        return None
    v = version.strip().strip('"')
    if re.fullmatch(r"\d{2}\.(04|10)", v):
        return "ubuntu"
    if re.fullmatch(r"\d{2}", v) and 30 <= int(v) <= 99:
        return "fedora"
    if re.fullmatch(r"\d{1,2}", v) and 7 <= int(v) <= 20:
        return "debian"
    return None


def _desktop_version(desktop: str, distro: str | None, version: Any) -> float | None:
    """GNOME or Plasma version shipped with this release (None when not known)."""
    known = _DESKTOP_VERSIONS.get((desktop, distro))
    if known is None or not isinstance(version, str):
        return None
    table, newer = known
    v = version.strip().strip('"')
    try:
        key: Any = v if distro == "ubuntu" else int(v)  # Ubuntu releases compare as "YY.MM" text
    except ValueError:
        return None
    if key in table:
        return table[key]
    return newer if key > max(table) else None


# --------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------


def _quoted_list(items: list[str]) -> str:
    quoted = [f'"{i}"' for i in items]
    if len(quoted) <= 1:
        return "".join(quoted)
    return ", ".join(quoted[:-1]) + f" {_P['and']} " + quoted[-1]


def _plain_list(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + f" {_P['and']} " + items[-1]


def _minutes(observed: dict) -> int:
    """Minutes to suggest: 5, or less when the policy's limit is known to be lower."""
    limit = observed.get("max_seconds")
    if isinstance(limit, (int, float)) and not isinstance(limit, bool) and limit >= 60:
        return max(1, min(_DEFAULT_MINUTES, int(limit // 60)))
    return _DEFAULT_MINUTES


def _result(check_id: str, platform: str, *, steps: list[str], hint: str, link: str | None = None,
            menu_path: str | None = None, open_argv: list[str] | None = None,
            command: str | None = None, needs_it: bool = False) -> dict:
    return {
        "title": CHECK_TITLES.get(check_id) or check_id.replace("_", " ").capitalize(),
        "why": _WHY_PLATFORM.get((check_id, platform)) or _WHY.get(check_id, _WHY_GENERIC),
        "steps": [s for s in steps if s],
        "link": link,
        "menu_path": menu_path,
        "open": list(open_argv) if open_argv else None,
        "command": command,
        "hint": " ".join(hint.split()),
        "needs_it": bool(needs_it),
    }


def _paste(command: str) -> str:
    if len(command) > _COMMAND_INLINE_MAX:
        return _PASTE_LONG
    return _PASTE.format(command=command)


def _open_for(link: str | None, platform: str) -> list[str] | None:
    if not link:
        return None
    if platform == "darwin":
        return ["/usr/bin/open", link]
    if platform == "windows":
        return ["explorer.exe", link]
    return None


def _state_text(platform: str) -> dict[str, dict[str, Any]]:
    name = _ENC_NAME.get(platform, _ENC_NAME["other"])
    device = _P.get(f"your_device.{platform}", _P["your_device.other"])
    return {state: {"steps": [x.format(name=name, device=device, menu="{menu}") for x in t["steps"]],
                    "hint": t["hint"].format(name=name, device=device)}
            for state, t in _ENC_STATES.items()}


# --------------------------------------------------------------------------------------
# macOS
# --------------------------------------------------------------------------------------


def _fix_darwin(check_id: str, version: Any, observed: dict) -> dict:
    band = _mac_band(version)
    known = band is not None
    band = band or _MAC_CURRENT
    minutes = _minutes(observed)

    if check_id == "security_software":
        return _fix_security_software("darwin", observed)
    table = _MAC.get(check_id)
    if table is None:
        return _not_applicable(check_id, "darwin")
    e = _pick(table, _MAC_BANDS, band)
    link = e.get("link")
    menu = e.get("menu_path") if known else e.get("menu_path_any", e.get("menu_path"))
    open_argv = _open_for(link, "darwin")
    hint = e.get("hint", "")
    needs_it = e.get("needs_it", False)

    if check_id == "disk_encryption":
        steps = list(e["steps"])
        state = observed.get("state")
        if state in ("encrypting", "decrypting"):
            st = _state_text("darwin")[state]
            head = [s.format(menu=menu) for s in st["steps"]]
            steps = head if state == "encrypting" else head + steps
            hint = st["hint"]
        return _result(check_id, "darwin", steps=steps, hint=hint, link=link, menu_path=menu,
                       open_argv=open_argv)

    if check_id == "screen_lock":
        enabled = observed.get("enabled")
        idle = observed.get("idle_seconds")
        delay = observed.get("lock_delay_seconds")
        need_pw = enabled is False or (isinstance(delay, int) and delay > 5)
        need_idle = isinstance(idle, int) and (idle == 0 or idle > minutes * 60)
        if not need_pw and not need_idle:
            need_pw = need_idle = True
        steps: list[str] = []
        if need_pw:
            steps += e["steps_password"]
        if need_idle:
            idle_steps = [s.format(minutes=minutes) for s in e["steps_idle"]]
            if not need_pw:
                steps += [_OPEN_SS if band != "12" else _OPEN_SP]
                if band != "12":
                    steps += ['Click "Lock Screen" in the sidebar.']
            steps += idle_steps
        if need_idle and not need_pw and "idle_open" in e:
            # 12 and earlier: the screen saver pane has no link; open its prefPane file.
            return _result(check_id, "darwin", steps=steps,
                           hint=e["hint_idle"].format(minutes=minutes), link=None,
                           menu_path=e["idle_menu_path"], open_argv=e["idle_open"])
        return _result(check_id, "darwin", steps=steps, hint=hint, link=link, menu_path=menu,
                       open_argv=open_argv)

    if check_id == "automatic_updates":
        switches_map: dict[str, str] = e["switches"]
        off = observed.get("settings_off")
        names = [switches_map[k] for k in switches_map if isinstance(off, (list, tuple)) and k in off]
        if not names:
            names = list(switches_map.values())
        steps = [s.format(switches=_quoted_list(names)) for s in e["steps"]]
        return _result(check_id, "darwin", steps=steps, hint=hint, link=link, menu_path=menu,
                       open_argv=open_argv)

    return _result(check_id, "darwin", steps=list(e["steps"]), hint=hint, link=link, menu_path=menu,
                   open_argv=open_argv, needs_it=needs_it)


# --------------------------------------------------------------------------------------
# Windows
# --------------------------------------------------------------------------------------


def _fix_windows(check_id: str, version: Any, observed: dict) -> dict:
    band = _win_band(version)
    known = band is not None
    band = band or _WIN_CURRENT
    minutes = _minutes(observed)

    if check_id == "security_software":
        return _fix_security_software("windows", observed)

    def entry(key: str) -> tuple[dict, str | None]:
        e = _pick(_WIN[key], _WIN_BANDS, band)
        menu = e.get("menu_path") if known else e.get("menu_path_any", e.get("menu_path"))
        return e, menu

    def simple(e: dict, menu: str | None, steps: list[str], hint: str | None = None,
               needs_it: bool | None = None) -> dict:
        link = e.get("link")
        open_argv = e.get("open") or _open_for(link, "windows")
        return _result(check_id, "windows", steps=steps, hint=hint or e.get("hint", ""), link=link,
                       menu_path=menu, open_argv=open_argv,
                       needs_it=e.get("needs_it", False) if needs_it is None else needs_it)

    if check_id == "disk_encryption":
        state = observed.get("state")
        edition = str(observed.get("edition") or "").lower()
        if observed.get("encryptable") is False:
            e, menu = entry("disk_encryption.not_encryptable")
            return simple(e, menu, list(e["steps"]))
        if state == "suspended":
            e, menu = entry("disk_encryption.suspended")
            return simple(e, menu, list(e["steps"]))
        key = "disk_encryption.bitlocker" if edition in _WIN_BITLOCKER_EDITIONS else "disk_encryption"
        e, menu = entry(key)
        steps = list(e["steps"])
        if edition in _WIN_HOME_EDITIONS:
            steps = [s for s in steps if "Manage BitLocker" not in s]
        hint = e["hint"]
        if state in ("encrypting", "decrypting"):
            st = _state_text("windows")[state]
            head = [s.format(menu=menu) for s in st["steps"]]
            steps = head if state == "encrypting" else head + steps
            hint = st["hint"]
        else:
            steps.insert(len(steps) - 2, _P["admin_denied.windows"])
        return simple(e, menu, steps, hint)

    if check_id == "firewall":
        e, menu = entry("firewall")
        profiles = observed.get("profiles")
        off = [p for p in ("domain", "private", "public")
               if isinstance(profiles, dict) and profiles.get(p) is False]
        which = _plain_list([_WIN_PROFILE_NAMES[p] for p in off]) if off else _WIN_ALL_PROFILES
        if len(off) > 1:
            which = "each of " + which
        steps = [s.format(profiles=which) for s in e["steps"]] + [_P["admin_denied.windows"]]
        return simple(e, menu, steps)

    if check_id == "screen_lock":
        e, menu = entry("screen_lock")
        return simple(e, menu, [s.format(minutes=minutes) for s in e["steps"]])

    if check_id == "system_integrity":
        e, menu = entry("system_integrity")
        uac, sb = observed.get("uac"), observed.get("secure_boot")
        if uac is False and sb is not False:
            which = "uac"
        elif sb is False and uac is not False:
            which = "secure_boot"
        else:
            which = "both"
        steps = list(e[f"steps_{which}"]) + list(e["steps_end"])
        return simple(e, menu, steps, e[f"hint_{which}"])

    if check_id == "remote_login":
        e, menu = entry("remote_login")
        steps = list(e["steps"])
        steps.insert(len(steps) - 1, _P["admin_denied.windows"])
        return simple(e, menu, steps)

    if check_id == "antivirus":
        e, menu = entry("antivirus")
        products = observed.get("products")
        if isinstance(products, list) and not products:
            return simple(e, menu, list(e["steps_none"]), e["hint_none"], needs_it=True)
        plist = [p for p in products if isinstance(p, dict)] if isinstance(products, list) else []
        if plist and any(p.get("enabled") and p.get("up_to_date") for p in plist):
            plist = []  # something already protects the PC: give the default steps
        defender = [p for p in plist if "defender" in str(p.get("name", "")).lower()]
        others = [p for p in plist if p not in defender]
        if others and not defender:
            name = str(others[0].get("name") or "your antivirus app")
            steps = [s.format(name=name) for s in e["steps_other"]]
            hint = e["hint_other"].format(name=name)
            if len(hint) > 95:
                hint = e["hint"]
            return _result(check_id, "windows", steps=steps, hint=hint, link=None, menu_path=None,
                           open_argv=None)
        steps = list(e["steps_open"])
        d = defender[0] if defender else {}
        if not d or d.get("enabled") is not True:
            steps += e["steps_enable"]
        if not d or d.get("up_to_date") is not True:
            steps += e["steps_update"]
        if d.get("enabled") is True and d.get("up_to_date") is False:
            return simple(e, menu, steps, e["hint_update"])
        return simple(e, menu, steps)

    if check_id in ("os_version", "automatic_updates"):
        e, menu = entry(check_id)
        if check_id == "os_version" and observed.get("end_of_life") is True and "steps_ended" in e:
            return simple(e, menu, list(e["steps_ended"]), e["hint_ended"])
        return simple(e, menu, list(e["steps"]))

    return _not_applicable(check_id, "windows")


# --------------------------------------------------------------------------------------
# Linux
# --------------------------------------------------------------------------------------


def _gnome_band(bands: list, gnome: float | None) -> tuple | None:
    """The band row for a GNOME version; the current one when the version is unknown."""
    if gnome is None:
        return bands[-1]
    chosen = None
    for row in bands:
        if gnome >= row[0]:
            chosen = row
    return chosen


def _fix_linux(check_id: str, version: Any, desktop: str | None, observed: dict) -> dict:
    desktop = desktop if desktop in ("gnome", "kde") else None
    distro = _linux_distro(version, observed)
    gnome = _desktop_version("gnome", distro, version) if desktop == "gnome" else None
    plasma = _desktop_version("kde", distro, version) if desktop == "kde" else None
    minutes = _minutes(observed)
    t = _LINUX_TEXT.get(check_id)

    if check_id == "security_software":
        return _fix_security_software("linux", observed)
    if t is None:
        return _not_applicable(check_id, "linux")

    if check_id == "disk_encryption":
        return _result(check_id, "linux", steps=list(t["steps"]), hint=t["hint"], needs_it=True)

    if check_id == "firewall":
        backend = observed.get("backend")
        if backend in ("nftables", "iptables"):
            return _result(check_id, "linux", steps=[s.format(backend=backend) for s in t["manual_steps"]],
                           hint=t["manual_hint"], needs_it=True)
        if backend == "firewalld" or (backend != "ufw" and distro == "fedora"):
            command = t["commands"]["firewalld"]
        elif distro == "debian":
            command = t["commands"]["ufw_install"]
        else:
            command = t["commands"]["ufw"]
        if desktop == "kde":
            kcm = ["kcmshell5", "kcm_firewall"] if plasma is not None and plasma < 6 else \
                ["systemsettings", "kcm_firewall"]
            steps = [s.format(command=command) for s in t["kde_steps"]]
            return _result(check_id, "linux", steps=steps, hint=t["hint_kde"],
                           menu_path=t["kde_menu_path"], open_argv=kcm, command=command)
        steps = [_TERMINAL[desktop], _paste(command)]
        hint = t["hint"].format(command=command)
        return _result(check_id, "linux", steps=steps, hint=hint, command=command)

    if check_id == "screen_lock":
        if desktop == "gnome":
            g = t["gnome"]
            row = _gnome_band(g["bands"], gnome)
            if row is None:  # GNOME older than 40: no confirmed panel id
                menu, open_argv, extra = g["menu_path_any"], None, None
            else:
                _, open_argv, menu, extra = row
                if gnome is None:
                    menu = g["menu_path_any"]
            steps = [g["steps_open"].format(menu=menu), extra] + \
                [s.format(minutes=minutes) for s in g["steps"]]
            return _result(check_id, "linux", steps=steps, hint=g["hint"].format(menu=menu), menu_path=menu,
                           open_argv=open_argv)
        if desktop == "kde":
            k = t["kde"]
            if plasma is None:
                menu, open_argv = k["menu_path_any"], ["systemsettings", "kcm_screenlocker"]
            elif plasma >= 6:
                menu, open_argv = k["menu_path_6"], ["systemsettings", "kcm_screenlocker"]
            elif plasma >= 5.27:
                menu, open_argv = k["menu_path_5"], ["kcmshell5", "kcm_screenlocker"]
            elif plasma >= 5.20:
                menu, open_argv = k["menu_path_5"], ["kcmshell5", "screenlocker"]
            else:
                menu, open_argv = k["menu_path_5"], None
            steps = [k["steps_open"].format(menu=menu)] + [s.format(minutes=minutes) for s in k["steps"]]
            return _result(check_id, "linux", steps=steps, hint=k["hint"].format(menu=menu), menu_path=menu,
                           open_argv=open_argv)
        g = t["generic"]
        return _result(check_id, "linux", steps=[s.format(minutes=minutes) for s in g["steps"]],
                       hint=g["hint"].format(minutes=minutes))

    if check_id == "os_version":
        tool = t["tools"].get((distro, desktop), t["tool_default"])
        name = _DISTRO_NAMES.get(distro, "Linux")
        steps = [s.format(tool=tool, distro=name) for s in t["steps"]]
        if tool == t["tool_default"]:
            steps[1] = steps[1].replace('"', "")
        open_argv = ["gnome-software", "--mode=updates"] if (desktop == "gnome" and distro == "fedora") else None
        return _result(check_id, "linux", steps=steps, hint=t["hint"].format(distro=name),
                       open_argv=open_argv)

    if check_id == "automatic_updates":
        family = observed.get("family")
        if family == "arch":
            # Arch has no supported automatic updater: the fix is updating by hand, regularly.
            command = t["commands"]["arch"]
            steps = [_TERMINAL[desktop], _paste(command), *t["arch_steps_end"]]
            return _result(check_id, "linux", steps=steps, hint=t["arch_hint"], command=command)
        if family == "fedora" and distro != "fedora":
            # RHEL, CentOS, Rocky, AlmaLinux: dnf4, or yum-cron up to version 7
            nums = _numbers(version)
            command = t["commands"]["yum_cron" if nums and nums[0] <= 7 else "fedora_dnf4"]
            steps = [_TERMINAL[desktop], _paste(command)]
            return _result(check_id, "linux", steps=steps, hint=t["hint"], command=command)
        if family == "debian" and distro not in ("ubuntu", "debian"):
            distro = "debian"  # Mint, Pop!_OS, elementary, Zorin...: the unattended-upgrades command
        if distro == "ubuntu" and desktop == "gnome":
            return _result(check_id, "linux", steps=list(t["ubuntu_gnome_steps"]),
                           hint=t["ubuntu_gnome_hint"], menu_path=t["ubuntu_gnome_menu_path"],
                           open_argv=t["ubuntu_gnome_open"], command=t["commands"]["debian"])
        if distro in ("ubuntu", "debian"):
            command = t["commands"]["debian"]
            steps = [_TERMINAL[desktop], _paste(command), t["debian_steps_end"]]
            return _result(check_id, "linux", steps=steps, hint=t["hint"], command=command)
        if distro == "fedora":
            nums = _numbers(version)
            command = t["commands"]["fedora_dnf5" if nums and nums[0] >= 41 else "fedora_dnf4"]
            steps = [_TERMINAL[desktop], _paste(command)]
            return _result(check_id, "linux", steps=steps, hint=t["hint"], command=command)
        return _result(check_id, "linux", steps=list(t["generic_steps"]), hint=t["generic_hint"])

    if check_id == "system_integrity":
        steps = list(t["steps"])
        menu = open_argv = None
        if desktop == "gnome":
            row = _gnome_band(t["gnome_bands"], gnome)
            if row is not None:
                _, open_argv, menu = row
                steps.append(t["gnome_step"].format(menu=menu))
        return _result(check_id, "linux", steps=steps, hint=t["hint"], menu_path=menu,
                       open_argv=open_argv, needs_it=True)

    if check_id == "remote_login":
        family = "debian" if distro in ("ubuntu", "debian") else distro
        command = t["commands"].get(family, t["commands"][None])
        if desktop == "gnome":
            row = _gnome_band(t["gnome_bands"], gnome)
            if row is not None:
                _, open_argv, menu, toggle = row
                steps = [t["gnome_steps_open"].format(menu=menu), toggle,
                         t["or_command"].format(command=command), t["exception"]]
                hint = t["hint_gnome"].format(menu=menu)
                if len(hint) > 95:
                    hint = t["hint"].format(command=command)
                return _result(check_id, "linux", steps=steps, hint=hint, menu_path=menu,
                               open_argv=open_argv, command=command)
        steps = [_TERMINAL[desktop], _paste(command), t["exception"]]
        return _result(check_id, "linux", steps=steps, hint=t["hint"].format(command=command),
                       command=command)

    return _not_applicable(check_id, "linux")


# --------------------------------------------------------------------------------------
# Shared
# --------------------------------------------------------------------------------------


def _fix_security_software(platform: str, observed: dict) -> dict:
    s = _SECURITY_SOFTWARE
    missing = observed.get("missing")
    names = [str(n) for n in missing if n] if isinstance(missing, (list, tuple)) else []
    names_text = _plain_list(names) if names else s["names_default"]
    device = _P.get(f"your_device.{platform}", _P["your_device.other"])
    steps = [s["restart"].get(platform, s["restart"]["other"])] + \
        [x.format(names=names_text) for x in s["steps"]]
    hint = s["hint"].format(device=device, names=names_text)
    if len(hint) > 95:
        hint = s["hint_short"].format(device=device)
    return _result("security_software", platform, steps=steps, hint=hint, needs_it=True)


def _not_applicable(check_id: str, platform: str) -> dict:
    r = _result(check_id, platform, steps=[], hint=_P["not_applicable_hint"])
    if check_id not in PLATFORM_CHECKS.get(platform, ()):
        r["why"] = _NOT_APPLICABLE_WHY
    return r


_PLATFORM_ALIASES = {"darwin": "darwin", "macos": "darwin", "mac": "darwin", "osx": "darwin",
                     "windows": "windows", "win32": "windows", "win": "windows",
                     "linux": "linux"}


def fix_for(check_id: str, platform: str, os_version: str | None = None, *,
            desktop: str | None = None, observed: dict | None = None) -> dict:
    """The fix instructions for ``check_id`` on this OS release (see the module docstring).

    Never raises: unknown checks, platforms and versions give a generic answer.
    """
    obs = observed if isinstance(observed, dict) else {}
    plat = _PLATFORM_ALIASES.get(str(platform or "").lower().strip(), "")
    check = str(check_id or "")
    try:
        if plat and check in PLATFORM_CHECKS[plat]:
            if plat == "darwin":
                fix = _fix_darwin(check, os_version, obs)
            elif plat == "windows":
                fix = _fix_windows(check, os_version, obs)
            else:
                dk = str(desktop).lower() if desktop else None
                fix = _fix_linux(check, os_version, dk, obs)
            if check == "screen_lock" and obs.get("enabled") is True and obs.get("idle_seconds") != 0:
                # The lock is on, only too slow: say "sooner", not "turn on".
                where = fix.get("menu_path") or _P["lock_sooner_anywhere"]
                hint = _P["lock_sooner"].format(menu=where)
                fix["hint"] = hint if len(hint) <= 100 else _P["lock_sooner"].format(menu=_P["lock_sooner_anywhere"])
            return fix
    except Exception:  # noqa: BLE001 - odd observed values must never break a fix page
        if check in CHECK_TITLES:
            r = _result(check, plat or "other", steps=[_P["generic_step"]],
                        hint=_P["generic_step"])
            return r
    return _not_applicable(check, plat or str(platform or ""))
