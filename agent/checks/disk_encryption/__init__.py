"""The disk_encryption check: its declaration (check.toml) and fix content (fix.toml)."""
