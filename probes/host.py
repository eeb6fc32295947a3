"""The Host seam: the only way a probe reads the machine.

``LiveHost`` reads this machine; ``RecordedHost`` replays a capture file;
``RecordingHost`` wraps a live host and writes down every answer so that
``checkup capture FILE`` can reproduce this machine anywhere.

Probes never raise because of what the host answers, so every method here
returns a value (None, or a Result with an ``error``) instead of raising.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass
from typing import Any, Iterable

PLATFORMS = ("darwin", "windows", "linux")
DEFAULT_TIMEOUT = 10.0

# Where bare program names are looked up on POSIX. The user's PATH is never
# consulted: a probe must not run whatever ``fdesetup`` sits first on PATH.
SAFE_PATH = ("/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/local/sbin", "/usr/local/bin")

MAX_READ = 4 * 1024 * 1024  # bytes read from one file at most
MAX_MACS = 8  # hardware MAC addresses reported at most

NOT_FOUND, TIMEOUT, DENIED = "not_found", "timeout", "denied"


@dataclass
class Result:
    """What running one program gave."""

    returncode: int | None = None
    stdout: str = ""
    stderr: str = ""
    error: str | None = None  # not_found, timeout, denied, or None

    @property
    def ok(self) -> bool:
        return self.error is None and self.returncode == 0

    @property
    def output(self) -> str:
        """stdout and stderr together, for tools that print on either."""
        return (self.stdout or "") + (self.stderr or "")

    def describe_failure(self, name: str) -> str:
        """A short human reason why this result gave no answer."""
        if self.error == TIMEOUT:
            return f"{name} timed out"
        if self.error == NOT_FOUND:
            return f"{name} is not available"
        if self.error == DENIED:
            return f"{name} needs administrator rights"
        return f"{name} gave no answer (exit {self.returncode})"


MAX_ENTRIES = 2000  # names read from one folder at most


class Listing(list):
    """The names in one folder (sorted), or why they could not be read: a list of names
    (empty on failure) with ``error`` not_found (no such folder), denied, or None."""

    def __init__(self, names=(), error: str | None = None) -> None:
        super().__init__(names)
        self.error = error

    @property
    def names(self) -> list[str]:
        return list(self)

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class FileRead:
    """A file read through the seam: its bytes, or why a file that exists gave none.

    ``data`` None and ``problem`` None: there is no such file."""

    data: bytes | None = None
    problem: str | None = None     # "is a directory", "cannot be read (Permission denied)"


def read_local_file(path: str, limit: int = MAX_READ) -> FileRead:
    """This machine's file at ``path`` (at most ``limit`` bytes)."""
    try:
        chunks, total = [], 0
        with open(path, "rb") as fh:   # in chunks: /proc/sys files refuse one huge read()
            while total < limit:
                chunk = fh.read(64 * 1024)
                if not chunk:
                    break
                chunks.append(chunk)
                total += len(chunk)
        return FileRead(b"".join(chunks)[:limit])
    except (FileNotFoundError, NotADirectoryError):
        return FileRead()
    except IsADirectoryError:
        return FileRead(problem="is a directory")
    except (OSError, ValueError) as exc:
        return FileRead(problem=f"cannot be read ({getattr(exc, 'strerror', None) or exc})")


def decode(data: bytes | str | None) -> str:
    """Lenient text decoding: UTF-8 (with or without BOM), UTF-16 when it looks like it."""
    if data is None:
        return ""
    if isinstance(data, str):
        return data
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return data.decode("utf-16", errors="replace")
    if len(data) >= 4 and data[1:2] == b"\x00" and data[3:4] == b"\x00":
        return data.decode("utf-16-le", errors="replace")
    text = data.decode("utf-8", errors="replace")
    return text[1:] if text.startswith("\ufeff") else text


class Host:
    """Interface every probe uses. Subclasses override the readers."""

    platform: str = ""

    def run(self, argv: list[str], timeout: float = DEFAULT_TIMEOUT) -> Result:
        raise NotImplementedError

    def read_text(self, path: str) -> str | None:
        raise NotImplementedError

    def read_file(self, path: str) -> FileRead:
        """The file's bytes (binary plists, UTF-8 checks of config files). By default the
        text ``read_text`` gives, as UTF-8."""
        text = self.read_text(path)
        return FileRead() if text is None else FileRead(text.encode("utf-8"))

    def list_dir(self, path: str) -> Listing:
        """The entries of a folder (names only, no recursion)."""
        return Listing([], NOT_FOUND)

    def registry(self, key: str, value: str) -> str | int | None:
        return None

    def registry_subkeys(self, key: str) -> list[str] | None:
        """The names of a registry key's subkeys; None when the key does not exist."""
        return None

    def processes(self) -> list[str]:
        return []

    def env(self, name: str) -> str | None:
        return None

    def mac_addresses(self) -> list[str]:
        """Hardware MAC addresses of the network adapters (for matching MDM records)."""
        return []

    def is_admin(self) -> bool:
        return False

    def hostname(self) -> str | None:
        return None


def current_platform() -> str:
    if sys.platform == "darwin":
        return "darwin"
    if sys.platform.startswith("win"):
        return "windows"
    return "linux"


class LiveHost(Host):
    """This machine."""

    def __init__(self) -> None:
        self.platform = current_platform()

    # -- commands ---------------------------------------------------------
    def resolve(self, program: str) -> str | None:
        """Absolute program path; bare names are searched in SAFE_PATH only."""
        if os.path.isabs(program):
            if os.path.exists(program):
                return program
            # /usr/bin/systemctl is /bin/systemctl on systems without merged /usr:
            # look for the same name in the other system folders, never in PATH.
            folder, name = os.path.split(program)
            if self.platform != "windows" and folder in SAFE_PATH:
                return self.resolve(name)
            return None
        if self.platform == "windows":
            root = os.environ.get("SystemRoot", r"C:\Windows")
            for folder in (os.path.join(root, "System32"),
                           os.path.join(root, "System32", "WindowsPowerShell", "v1.0")):
                for name in (program, program + ".exe"):
                    path = os.path.join(folder, name)
                    if os.path.isfile(path):
                        return path
            return None
        for folder in SAFE_PATH:
            path = os.path.join(folder, program)
            if os.path.isfile(path) and os.access(path, os.X_OK):
                return path
        return None

    def run(self, argv: list[str], timeout: float = DEFAULT_TIMEOUT) -> Result:
        if not argv:
            return Result(error=NOT_FOUND)
        path = self.resolve(argv[0])
        if path is None:
            return Result(error=NOT_FOUND)
        env = dict(os.environ)
        kwargs: dict[str, Any] = {}
        if self.platform == "windows":
            kwargs["creationflags"] = getattr(subprocess, "CREATE_NO_WINDOW", 0)
        else:
            # Stable, parseable output; every command gets its own process group
            # so that a timeout kills its children too.
            env["LC_ALL"] = "C"
            kwargs["start_new_session"] = True
        try:
            proc = subprocess.Popen(
                [path, *argv[1:]], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, env=env, shell=False, **kwargs)
        except PermissionError:
            return Result(error=DENIED)
        except (FileNotFoundError, NotADirectoryError):
            return Result(error=NOT_FOUND)
        except OSError:
            return Result(error=NOT_FOUND)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._kill(proc)
            return Result(error=TIMEOUT)
        return Result(returncode=proc.returncode, stdout=self._decode(out), stderr=self._decode(err))

    def _decode(self, data: bytes) -> str:
        """Windows console tools (manage-bde, netsh) print in the OEM code page."""
        if self.platform == "windows" and data:
            try:
                return data.decode("utf-8")
            except UnicodeDecodeError:
                try:
                    import ctypes
                    return data.decode(f"cp{ctypes.windll.kernel32.GetOEMCP()}", errors="replace")  # type: ignore[attr-defined]
                except Exception:  # noqa: BLE001
                    pass
        return decode(data)

    def _kill(self, proc: subprocess.Popen) -> None:
        try:
            if self.platform != "windows":
                os.killpg(proc.pid, signal.SIGKILL)
            else:
                proc.kill()
        except (OSError, ProcessLookupError):
            pass
        try:
            proc.communicate(timeout=2)
        except (subprocess.TimeoutExpired, OSError, ValueError):
            pass

    # -- files, registry, processes --------------------------------------
    def read_text(self, path: str) -> str | None:
        got = read_local_file(path)
        return None if got.data is None else decode(got.data)

    def read_file(self, path: str) -> FileRead:
        return read_local_file(path)

    def list_dir(self, path: str) -> Listing:
        try:
            with os.scandir(path) as entries:
                names = []
                for entry in entries:
                    names.append(entry.name)
                    if len(names) >= MAX_ENTRIES:
                        break
        except PermissionError:
            return Listing([], DENIED)
        except (OSError, ValueError):
            return Listing([], NOT_FOUND)
        return Listing(sorted(names))

    def _winreg_key(self, key: str):  # noqa: ANN202 - (winreg, root, sub key) or None
        """Where ``HKLM\\...`` / ``HKCU\\...`` points, on Windows; None elsewhere."""
        if self.platform != "windows":
            return None
        try:
            import winreg  # type: ignore[import-not-found]
        except ImportError:
            return None
        roots = {"HKLM": winreg.HKEY_LOCAL_MACHINE, "HKEY_LOCAL_MACHINE": winreg.HKEY_LOCAL_MACHINE,
                 "HKCU": winreg.HKEY_CURRENT_USER, "HKEY_CURRENT_USER": winreg.HKEY_CURRENT_USER}
        root_name, _, sub = key.partition("\\")
        root = roots.get(root_name.upper())
        return None if root is None else (winreg, root, sub)

    def registry(self, key: str, value: str) -> str | int | None:
        where = self._winreg_key(key)
        if where is None:
            return None
        winreg, root, sub = where
        try:
            flags = winreg.KEY_READ | getattr(winreg, "KEY_WOW64_64KEY", 0)
            with winreg.OpenKey(root, sub, 0, flags) as handle:
                data, kind = winreg.QueryValueEx(handle, value)
        except OSError:
            return None
        if isinstance(data, (int, str)):
            return data
        if isinstance(data, list):
            return "\n".join(str(x) for x in data)
        return None

    def registry_subkeys(self, key: str) -> list[str] | None:
        where = self._winreg_key(key)
        if where is None:
            return None
        winreg, root, sub = where
        names: list[str] = []
        try:
            flags = winreg.KEY_READ | getattr(winreg, "KEY_WOW64_64KEY", 0)
            with winreg.OpenKey(root, sub, 0, flags) as handle:
                while len(names) < MAX_ENTRIES:
                    try:
                        names.append(winreg.EnumKey(handle, len(names)))
                    except OSError:  # ERROR_NO_MORE_ITEMS
                        break
        except OSError:
            return None
        return names

    def processes(self) -> list[str]:
        try:
            import psutil
        except ImportError:
            return []
        names = []
        try:
            for proc in psutil.process_iter(["name"]):
                name = proc.info.get("name")
                if name:
                    names.append(name)
        except Exception:  # psutil can race with exiting processes
            pass
        return names

    def env(self, name: str) -> str | None:
        return os.environ.get(name)

    def mac_addresses(self) -> list[str]:
        from .serials import hardware_mac
        try:
            import psutil
            link = getattr(psutil, "AF_LINK", None)
            found = {hardware_mac(a.address)
                     for addrs in psutil.net_if_addrs().values() for a in addrs if a.family == link}
        except Exception:  # noqa: BLE001 - no MACs is an honest answer
            return []
        return sorted(m for m in found if m)[:MAX_MACS]

    def is_admin(self) -> bool:
        if self.platform == "windows":
            try:
                import ctypes
                return bool(ctypes.windll.shell32.IsUserAnAdmin())  # type: ignore[attr-defined]
            except Exception:
                return False
        try:
            return os.geteuid() == 0
        except AttributeError:
            return False

    def hostname(self) -> str | None:
        try:
            return socket.gethostname() or None
        except OSError:
            return None


class CaptureError(ValueError):
    """A capture file that cannot be replayed; the message names the file."""


def program_key(program: str) -> str:
    """argv[0] as compared in captures: base name, lower case, no .exe."""
    base = program.replace("\\", "/").rsplit("/", 1)[-1].lower()
    return base[:-4] if base.endswith(".exe") else base


class RecordedHost(Host):
    """Replays a capture (DESIGN.md, "Replay / capture file format")."""

    def __init__(self, data: dict, source: str = "capture") -> None:
        if not isinstance(data, dict):
            raise CaptureError(f"{source}: a capture must be a JSON object")
        platform = data.get("platform")
        if platform not in PLATFORMS:
            raise CaptureError(
                f"{source}: unknown platform {platform!r} (expected one of {', '.join(PLATFORMS)})")
        self.platform = platform
        self.source = source
        self._data = data
        self._commands: dict[tuple, dict] = {}
        for i, entry in enumerate(_as_list(data.get("commands"))):
            if not isinstance(entry, dict):
                continue
            argv = entry.get("argv")
            if not isinstance(argv, list) or not argv or not all(isinstance(a, str) for a in argv):
                continue
            key = (program_key(argv[0]), *argv[1:])
            self._commands.setdefault(key, entry)
        files = data.get("files")
        self._files = {k: v for k, v in files.items() if isinstance(v, str)} if isinstance(files, dict) else {}
        self._registry: dict[str, dict[str, Any]] = {}
        self._subkeys: dict[str, dict[str, str]] = {}  # key (lower) -> {subkey lower: name}
        reg = data.get("registry")
        if isinstance(reg, dict):
            for key, values in reg.items():
                if isinstance(values, dict):
                    self._registry[key.lower()] = {str(n).lower(): v for n, v in values.items()}
                    parent, sep, name = key.rpartition("\\")
                    while sep and name:  # every recorded key makes its parents exist
                        self._subkeys.setdefault(parent.lower(), {}).setdefault(name.lower(), name)
                        parent, sep, name = parent.rpartition("\\")
        dirs = data.get("dirs")
        self._dirs: dict[str, Any] = dirs if isinstance(dirs, dict) else {}
        env = data.get("env")
        self._env = {str(k): v for k, v in env.items() if isinstance(v, str)} if isinstance(env, dict) else {}
        procs = data.get("processes")
        self._processes = [p for p in _as_list(procs) if isinstance(p, str)]

    @classmethod
    def load(cls, path: str) -> "RecordedHost":
        try:
            with open(path, "rb") as fh:
                raw = fh.read()
        except FileNotFoundError:
            raise CaptureError(f"{path}: no such file") from None
        except OSError as exc:
            raise CaptureError(f"{path}: cannot read ({exc.strerror or exc})") from None
        try:
            data = json.loads(decode(raw))
        except (ValueError, RecursionError) as exc:
            where = f" (line {exc.lineno}, column {exc.colno})" if hasattr(exc, "lineno") else ""
            raise CaptureError(f"{path}: not a valid JSON capture{where}") from None
        problem = capture_problem(data)
        if problem:
            raise CaptureError(f"{path}: {problem}")
        return cls(data, source=path)

    def run(self, argv: list[str], timeout: float = DEFAULT_TIMEOUT) -> Result:
        if not argv:
            return Result(error=NOT_FOUND)
        entry = self._commands.get((program_key(argv[0]), *argv[1:]))
        if entry is None:
            return Result(error=NOT_FOUND)
        error = entry.get("error")
        if error in (NOT_FOUND, TIMEOUT, DENIED):
            return Result(error=error)
        code = entry.get("returncode")
        return Result(
            returncode=code if isinstance(code, int) and not isinstance(code, bool) else None,
            stdout=entry.get("stdout") if isinstance(entry.get("stdout"), str) else "",
            stderr=entry.get("stderr") if isinstance(entry.get("stderr"), str) else "",
            error=None if isinstance(code, int) else NOT_FOUND,
        )

    def read_text(self, path: str) -> str | None:
        return self._files.get(path)

    def list_dir(self, path: str) -> Listing:
        got = self._dirs.get(path)
        if isinstance(got, list):
            return Listing(sorted(n for n in got if isinstance(n, str))[:MAX_ENTRIES])
        if got == DENIED:
            return Listing([], DENIED)
        return Listing([], NOT_FOUND)

    def registry(self, key: str, value: str) -> str | int | None:
        got = self._registry.get(key.lower(), {}).get(value.lower())
        if isinstance(got, bool):
            return int(got)
        return got if isinstance(got, (str, int)) else None

    def registry_subkeys(self, key: str) -> list[str] | None:
        low = key.lower()
        if low not in self._registry and low not in self._subkeys:
            return None
        return sorted(self._subkeys.get(low, {}).values(), key=str.lower)

    def processes(self) -> list[str]:
        return list(self._processes)

    def mac_addresses(self) -> list[str]:
        from .serials import hardware_mac
        found = {hardware_mac(m) for m in _as_list(self._data.get("mac_addresses")) if isinstance(m, str)}
        return sorted(m for m in found if m)[:MAX_MACS]

    def env(self, name: str) -> str | None:
        return self._env.get(name)

    def is_admin(self) -> bool:
        return self._data.get("is_admin") is True

    def hostname(self) -> str | None:
        name = self._data.get("hostname")
        return name if isinstance(name, str) else None


def capture_problem(data: Any) -> str | None:
    """The first structural problem of a capture file, in words, or None.

    Fields may be absent (or null); when present they must have their types,
    so that a mangled file is refused with a clear line rather than half-read.
    Keys the format does not know (a fixture's ``expect``) are ignored."""
    if not isinstance(data, dict):
        return "a capture must be a JSON object"
    if data.get("platform") not in PLATFORMS:
        return f"unknown platform {data.get('platform')!r} (expected one of {', '.join(PLATFORMS)})"

    def strings(v: Any) -> bool:
        return isinstance(v, list) and all(isinstance(x, str) for x in v)

    def text_map(v: Any) -> bool:
        return isinstance(v, dict) and all(isinstance(x, str) or x is None for x in v.values())

    checks = {
        "hostname": (lambda v: isinstance(v, str), "text"),
        "is_admin": (lambda v: isinstance(v, bool), "true or false"),
        "env": (text_map, "an object of text values"),
        "processes": (strings, "a list of program names"),
        "mac_addresses": (strings, "a list of addresses"),
        "files": (text_map, "an object of path: text"),
        "registry": (lambda v: isinstance(v, dict) and all(isinstance(x, dict) for x in v.values()),
                     "an object of key: {value: data}"),
        "commands": (lambda v: isinstance(v, list), "a list"),
        "dirs": (lambda v: isinstance(v, dict) and all(strings(x) or x in (NOT_FOUND, DENIED)
                                                       for x in v.values()),
                 "an object of path: [names] (or \"denied\" / \"not_found\")"),
    }
    for key, (ok, expected) in checks.items():
        if data.get(key) is not None and not ok(data[key]):
            return f"{key} must be {expected}"
    for i, entry in enumerate(data.get("commands") or []):
        where = f"commands[{i}]"
        if not isinstance(entry, dict):
            return f"{where} must be an object"
        argv = entry.get("argv")
        if not strings(argv) or not argv:
            return f"{where}.argv must be a non-empty list of strings"
        if entry.get("error") not in (None, NOT_FOUND, TIMEOUT, DENIED):
            return f"{where}.error must be not_found, timeout or denied"
        for stream in ("stdout", "stderr"):
            if entry.get(stream) is not None and not isinstance(entry[stream], str):
                return f"{where}.{stream} must be text"
        code = entry.get("returncode")
        if code is not None and (not isinstance(code, int) or isinstance(code, bool)):
            return f"{where}.returncode must be a whole number"
    return None


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else []


class RecordingHost(Host):
    """Wraps another host and writes down every answer it gives (thread-safe)."""

    def __init__(self, inner: Host) -> None:
        self.inner = inner
        self.platform = inner.platform
        self._lock = threading.Lock()
        self._commands: list[dict] = []
        self._files: dict[str, str] = {}
        self._registry: dict[str, dict[str, Any]] = {}
        self._env: dict[str, str] = {}
        self._dirs: dict[str, Any] = {}
        self._processes: list[str] | None = None

    def run(self, argv: list[str], timeout: float = DEFAULT_TIMEOUT) -> Result:
        result = self.inner.run(argv, timeout)
        entry: dict[str, Any] = {"argv": list(argv)}
        if result.error:
            entry["error"] = result.error
        else:
            entry.update(stdout=result.stdout, stderr=result.stderr, returncode=result.returncode)
        with self._lock:
            if not any(c["argv"] == entry["argv"] for c in self._commands):
                self._commands.append(entry)
        return result

    def read_text(self, path: str) -> str | None:
        text = self.inner.read_text(path)
        if text is not None:
            with self._lock:
                self._files[path] = text
        return text

    def read_file(self, path: str) -> FileRead:
        """Recorded as text when it is UTF-8 (a capture holds text: a binary plist read
        here is not in the capture, and its replay reads no such file)."""
        got = self.inner.read_file(path)
        if got.data is not None:
            try:
                text = got.data.decode("utf-8")
            except UnicodeDecodeError:
                text = None
            if text is not None:
                with self._lock:
                    self._files[path] = text
        return got

    def list_dir(self, path: str) -> Listing:
        got = self.inner.list_dir(path)
        if got.error != NOT_FOUND:
            with self._lock:
                self._dirs[path] = list(got.names) if got.error is None else got.error
        return got

    def registry(self, key: str, value: str) -> str | int | None:
        got = self.inner.registry(key, value)
        if got is not None:
            with self._lock:
                self._registry.setdefault(key, {})[value] = got
        return got

    def registry_subkeys(self, key: str) -> list[str] | None:
        got = self.inner.registry_subkeys(key)
        if got is not None:
            with self._lock:  # an empty table records that the key (and each subkey) exists
                self._registry.setdefault(key, {})
                for name in got:
                    self._registry.setdefault(f"{key}\\{name}", {})
        return got

    def processes(self) -> list[str]:
        """The first list read is kept and given to every later caller: a capture holds one
        process list, so the run must see one too for its replay to give the same facts."""
        with self._lock:
            if self._processes is not None:
                return list(self._processes)
        names = self.inner.processes()
        with self._lock:
            if self._processes is None:
                self._processes = list(names)
            return list(self._processes)

    def env(self, name: str) -> str | None:
        got = self.inner.env(name)
        if got is not None:
            with self._lock:
                self._env[name] = got
        return got

    def is_admin(self) -> bool:
        return self.inner.is_admin()

    def hostname(self) -> str | None:
        return self.inner.hostname()

    def mac_addresses(self) -> list[str]:
        return self.inner.mac_addresses()

    def capture(self) -> dict:
        with self._lock:
            return {
                "platform": self.platform,
                "hostname": self.inner.hostname(),
                "is_admin": self.inner.is_admin(),
                "env": dict(self._env),
                "processes": list(self._processes if self._processes is not None else self.inner.processes()),
                "mac_addresses": self.inner.mac_addresses(),
                "commands": [dict(c) for c in self._commands],
                "files": dict(self._files),
                "registry": {k: dict(v) for k, v in self._registry.items()},
                "dirs": {k: (list(v) if isinstance(v, list) else v) for k, v in self._dirs.items()},
            }


def iter_lines(text: str | None) -> Iterable[str]:
    """Lines of command output with CR/LF and surrounding blanks removed."""
    for line in (text or "").splitlines():
        line = line.strip()
        if line:
            yield line
