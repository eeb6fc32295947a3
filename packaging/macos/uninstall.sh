#!/bin/bash
# Remove Checkup from a Mac (run as root, e.g. as a Jamf policy script).
#   uninstall.sh           remove the app, the LaunchAgent and the `checkup` command
#   uninstall.sh --purge   also remove IT's /Library/Application Support/Checkup
# A configuration profile installed by the MDM is removed by the MDM, not here.
# Each person's own state (~/Library/Application Support/Checkup, ~/Library/Preferences)
# is left to them.
set -u

LABEL="com.checkup.agent"
PLIST="/Library/LaunchAgents/$LABEL.plist"

if [ "$(/usr/bin/id -u)" -ne 0 ]; then
    echo "uninstall.sh: run as root (sudo $0)" >&2
    exit 1
fi

# Stop the tray in every GUI session.
for uid in $(/bin/ps -axo uid=,comm= | /usr/bin/awk '$2 ~ /loginwindow$/ { print $1 }' | /usr/bin/sort -u); do
    /bin/launchctl bootout "gui/$uid/$LABEL" 2>/dev/null || true
done

/bin/rm -f "$PLIST"
if [ "$(/usr/bin/readlink /usr/local/bin/checkup 2>/dev/null)" = "/Applications/Checkup.app/Contents/MacOS/checkup" ]; then
    /bin/rm -f /usr/local/bin/checkup
fi
/bin/rm -rf /Applications/Checkup.app
/usr/sbin/pkgutil --forget com.checkup.agent.pkg >/dev/null 2>&1 || true

if [ "${1:-}" = "--purge" ]; then
    /bin/rm -rf "/Library/Application Support/Checkup"
fi
echo "Checkup removed."
