"""The security_software check: its declaration (check.toml) and fix content (fix.toml)."""
