"""The gatekeeper check: its declaration (check.toml) and fix content (fix.toml)."""
