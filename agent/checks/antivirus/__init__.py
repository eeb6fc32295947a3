"""The antivirus check: its declaration (check.toml) and fix content (fix.toml)."""
