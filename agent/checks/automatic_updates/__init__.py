"""The automatic_updates check: its declaration (check.toml) and fix content (fix.toml)."""
