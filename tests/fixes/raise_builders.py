"""pytest plugin for the meta-test: every per-OS fix builder raises.

    python3 -m pytest -p tests.fixes.raise_builders tests/test_fixes.py

Used by test_fixes.test_a_raising_builder_fails_the_suite: the fix tests must fail, not pass.
"""
import agent.fixes as _fixes


def _boom(*_args, **_kwargs):
    raise RuntimeError("fix builder replaced by raise (meta-test)")


for _name in ("_fix_darwin", "_fix_windows", "_fix_linux"):
    setattr(_fixes, _name, _boom)
