"""The screen_lock check: its declaration (check.toml) and fix content (fix.toml)."""
