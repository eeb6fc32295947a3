"""PyInstaller entry point: the `checkup` command (agent.cli.main)."""
import multiprocessing
import sys

from agent.cli import main

if __name__ == "__main__":
    multiprocessing.freeze_support()
    sys.exit(main())
