"""PyInstaller entry point: the `checkup` command (agent.cli.main).

Opening Checkup.app on macOS (Finder, Launchpad, the Dock, `open -a Checkup`) runs this
executable with no command: that starts the tray, or opens the running tray's report
(`checkup tray --show`), instead of printing a check nobody sees. The same executable
typed in Terminal (/usr/local/bin/checkup) still runs `checkup check`.
"""
import multiprocessing
import sys

APP_ID = "com.checkup.agent"   # CFBundleIdentifier in packaging/checkup.spec


def launcher_argv(argv, environ, platform=sys.platform):
    """The command line to run for ``argv`` (without the program name).

    macOS sets __CFBundleIdentifier to the app's identifier when LaunchServices opens
    the app; a program started from Terminal inherits Terminal's instead. macOS 10.8 and
    older also passed a -psn_0_NNN (process serial number) argument: it is dropped."""
    args = [a for a in argv if not a.startswith("-psn_")] if platform == "darwin" else list(argv)
    if platform == "darwin" and not args and environ.get("__CFBundleIdentifier") == APP_ID:
        return ["tray", "--show"]
    return args


if __name__ == "__main__":
    multiprocessing.freeze_support()
    import os

    from agent.cli import main
    sys.exit(main(launcher_argv(sys.argv[1:], os.environ)))
