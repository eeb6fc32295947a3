"""The system_integrity check: its declaration (check.toml) and fix content (fix.toml)."""
