"""tomllib on 3.11+, tomli before."""
try:
    import tomllib  # type: ignore[import-not-found]
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

TOMLDecodeError = tomllib.TOMLDecodeError

__all__ = ["tomllib", "TOMLDecodeError"]
