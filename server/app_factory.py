"""For ``uvicorn --factory`` with several worker processes (PostgreSQL)."""
import os

from .app import create_app
from .config import load_config


def app():
    cfg = load_config(os.environ.get("CHECKUP_SERVER_CONFIG") or None)
    return create_app(cfg, run_migrations=False)
