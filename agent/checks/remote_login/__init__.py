"""The remote_login check: its declaration (check.toml) and fix content (fix.toml)."""
