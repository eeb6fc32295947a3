"""The firewall check: its declaration (check.toml) and fix content (fix.toml)."""
