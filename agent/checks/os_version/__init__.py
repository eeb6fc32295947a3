"""The os_version check: its declaration (check.toml) and fix content (fix.toml)."""
