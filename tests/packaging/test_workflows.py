"""The GitHub Actions workflows (.github/workflows): they cannot run here (no Windows or macOS
runner), so they are linted: actionlint when it is on PATH, the GitHub workflow JSON schema
(SchemaStore's, vendored by check-jsonschema) always, shellcheck on every bash `run:` script,
and every `packaging/build TARGET` they run is one packaging/build accepts, on the right OS."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
FILES = sorted(WORKFLOWS.glob("*.yml"))
BUILD = ROOT / "packaging" / "build"

# Signing variables the "sign" branch adds to packaging/build (osslsigncode). Until that is
# merged they are not in packaging/; once any of them is, all of them must be.
SIGN_VARS = {"CHECKUP_SIGN_CERT", "CHECKUP_SIGN_KEY", "CHECKUP_SIGN_TIMESTAMP_URL"}


def _load(path: Path) -> dict:
    # PyYAML (YAML 1.1) reads the key `on` as True.
    doc = yaml.safe_load(path.read_text())
    if True in doc:
        doc["on"] = doc.pop(True)
    return doc


def _steps():
    """(file, job id, job, step) for every step of every workflow."""
    for path in FILES:
        for job_id, job in _load(path)["jobs"].items():
            for step in job.get("steps", []):
                yield path, job_id, job, step


def _shell(job: dict, step: dict) -> str:
    return step.get("shell") or job.get("defaults", {}).get("run", {}).get("shell") or "bash"


def _build_commands():
    """(file, job id, runs-on, target) for every `packaging/build TARGET` in a run: script."""
    found = []
    for path, job_id, job, step in _steps():
        for target in re.findall(r"(?:^|[\s;&|(])packaging/build\s+(\S+)", step.get("run", "")):
            found.append((path.name, job_id, job["runs-on"], target))
    return found


def _schema_check(*paths: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows",
         *map(str, paths)], capture_output=True, text=True, timeout=120)


def test_the_two_workflows_exist():
    assert {p.name for p in FILES} == {"ci.yml", "release.yml"}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_workflow_matches_the_github_workflow_schema(path):
    proc = _schema_check(path)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_schema_check_rejects_a_broken_workflow(tmp_path):
    doc = _load(WORKFLOWS / "release.yml")
    doc["jobs"]["windows"]["runs-on"] = {"bad": ["shape"]}
    doc["jobs"]["macos"]["steps"][0] = {"uses": "actions/checkout@v4", "wiht": {"x": 1}}
    broken = tmp_path / "broken.yml"
    broken.write_text(yaml.safe_dump(doc))
    proc = _schema_check(broken)
    assert proc.returncode != 0
    assert "runs-on" in proc.stdout or "wiht" in proc.stdout, proc.stdout


@pytest.mark.skipif(shutil.which("actionlint") is None,
                    reason="actionlint is not installed (a Go binary from GitHub releases; "
                           "the schema and shellcheck tests cover what they can)")
def test_actionlint():
    proc = subprocess.run(["actionlint", *map(str, FILES)], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_bash_run_scripts_pass_shellcheck(tmp_path):
    if shutil.which("shellcheck") is None:
        pytest.fail("shellcheck is missing (Debian package shellcheck, .ci/apt-packaging.txt)")
    scripts = []
    for path, job_id, job, step in _steps():
        if "run" not in step or _shell(job, step) != "bash":
            continue
        # An expression is replaced by text, as the runner does before bash sees it.
        body = re.sub(r"\$\{\{.*?\}\}", "EXPR", step["run"])
        script = tmp_path / f"{path.stem}-{job_id}-{len(scripts)}.sh"
        script.write_text("#!/usr/bin/env bash\nset -eo pipefail\n" + body)
        scripts.append(script)
    assert len(scripts) >= 10
    proc = subprocess.run(["shellcheck", "-s", "bash", *map(str, scripts)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_release_builds_every_installer_on_its_os():
    commands = {(job, str(runs_on), target) for _, job, runs_on, target in _build_commands()}
    assert commands == {("windows", "windows-latest", "binary"),
                        ("msi", "ubuntu-latest", "msi"),
                        ("macos", "macos-latest", "pkg")}


def _run_build(target: str, tmp_path: Path) -> subprocess.CompletedProcess:
    # PYTHON points nowhere, so no target gets as far as a PyInstaller build.
    env = {**os.environ, "PYTHON": str(tmp_path / "no-python"),
           "CHECKUP_DIST": str(tmp_path / "dist"), "CHECKUP_WORK": str(tmp_path / "work"),
           "CHECKUP_WINDOWS_DIR": str(tmp_path / "no-windows-build")}
    return subprocess.run(["bash", str(BUILD), target], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=60)


@pytest.mark.parametrize("target", sorted({c[3] for c in _build_commands()}))
def test_every_build_target_in_the_workflows_is_one_packaging_build_accepts(target, tmp_path):
    proc = _run_build(target, tmp_path)
    assert "unknown target" not in proc.stderr and proc.returncode != 2, proc.stderr
    # It stopped at a missing tool or build (exit 1, one line naming it), not at usage.
    assert proc.returncode == 1 and proc.stderr.startswith(f"packaging/build {target}: "), proc.stderr


def test_packaging_build_rejects_an_unknown_target(tmp_path):
    proc = _run_build("installer", tmp_path)
    assert proc.returncode == 2 and "unknown target 'installer'" in proc.stderr


def test_every_checkup_variable_the_workflows_set_is_one_packaging_reads():
    text = "\n".join(p.read_text() for p in FILES)
    used = set(re.findall(r"\bCHECKUP_[A-Z0-9_]*[A-Z0-9]\b", text))
    assert {"CHECKUP_SIGN_APP", "CHECKUP_SIGN_PKG", "CHECKUP_NOTARY_PROFILE"} <= used
    packaging = "\n".join(p.read_text(errors="replace") for p in (ROOT / "packaging").rglob("*")
                          if p.is_file())
    known = set(re.findall(r"\bCHECKUP_[A-Z0-9_]*[A-Z0-9]\b", packaging))
    if SIGN_VARS & known:
        assert SIGN_VARS <= known, f"packaging/ does not read {sorted(SIGN_VARS - known)}"
    else:
        known |= SIGN_VARS
    assert used <= known, f"packaging/ does not read {sorted(used - known)}"


def test_every_secret_and_variable_is_documented_in_the_readme():
    text = "\n".join(p.read_text() for p in FILES)
    names = set(re.findall(r"\b(?:secrets|vars)\.([A-Z0-9_]+)", text))
    assert "WINDOWS_SIGN_PFX" in names and "MACOS_SIGN_P12" in names
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### Release builds on GitHub Actions", 1)[1].split("\n## ", 1)[0]
    missing = sorted(n for n in names if f"`{n}`" not in section)
    assert not missing, f"README 'Release builds on GitHub Actions' does not name {missing}"


def test_secrets_reach_steps_only_through_env():
    # A secret pasted into a run: script lands in the script file on the runner and in logs
    # of a failing command line; it must come in through env:.
    for path, job_id, job, step in _steps():
        assert "secrets." not in step.get("run", ""), f"{path.name} {job_id}: {step.get('name')}"
        assert "secrets." not in str(step.get("if", "")), f"{path.name} {job_id}: if uses a secret"


def test_the_release_runs_on_tags_and_attaches_every_installer():
    doc = _load(WORKFLOWS / "release.yml")
    assert doc["on"] == {"push": {"tags": ["v*"]}, "workflow_dispatch": None}
    assert doc["permissions"] == {"contents": "read"}
    jobs = doc["jobs"]
    release = jobs["release"]
    assert release["if"] == "startsWith(github.ref, 'refs/tags/v')"
    assert release["permissions"] == {"contents": "write"}
    assert set(release["needs"]) == set(jobs) - {"release"}
    uploads = {step["with"]["name"]: step["with"]["path"]
               for job in jobs.values() for step in job["steps"]
               if step.get("uses", "").startswith("actions/upload-artifact@")}
    attached = {name: path for name, path in uploads.items() if name.startswith("release-")}
    assert attached == {"release-windows-zip": "release/*.zip", "release-msi": "dist/*.msi",
                        "release-pkg": "dist/*.pkg"}
    download = next(s for s in release["steps"] if s.get("uses", "").startswith("actions/download-artifact@"))
    assert download["with"]["pattern"] == "release-*"
    # The msi job builds from exactly what the windows job uploaded, where packaging/build looks.
    fetched = next(s for s in jobs["msi"]["steps"] if s.get("uses", "").startswith("actions/download-artifact@"))
    assert fetched["with"] == {"name": "windows-binary", "path": "dist/windows/checkup"}
    assert uploads["windows-binary"] == "dist/checkup/"
    for job_id, job in jobs.items():
        assert 0 < job["timeout-minutes"] <= 60, job_id


def test_ci_runs_what_ci_run_runs():
    doc = _load(WORKFLOWS / "ci.yml")
    runs = [s["run"] for s in doc["jobs"]["test"]["steps"] if "run" in s]
    assert runs == ["bash .ci/run"]
    ci_run = (ROOT / ".ci" / "run").read_text()
    assert "bash .ci/setup" in ci_run and ci_run.rstrip().endswith("python3 -m pytest -q")
    assert "bash .ci/setup && python3 -m pytest -q" in (ROOT / "README.md").read_text()
