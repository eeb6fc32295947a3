"""The password_manager check: declaration, judge and fix texts."""
