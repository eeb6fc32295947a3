"""Authenticode signing of the Windows installer, for real: a throwaway CA and code-signing
certificate (openssl), `packaging/build msi` with osslsigncode, then `osslsigncode verify`
with the throwaway CA as the only trust anchor. The executables are real PE files (pip's
bundled distlib launchers stand in for checkup.exe / checkupw.exe). PKCS#11 signing uses a
SoftHSM token holding the key."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "packaging" / "build"
SIGN = ROOT / "packaging" / "windows" / "sign.sh"
SOFTHSM_MODULE = Path("/usr/lib/softhsm/libsofthsm2.so")
SIGN_VARS = ("CHECKUP_SIGN_CERT", "CHECKUP_SIGN_KEY", "CHECKUP_SIGN_KEY_PASS_FILE",
             "CHECKUP_SIGN_PKCS11_URI", "CHECKUP_SIGN_PKCS11_MODULE", "CHECKUP_SIGN_PKCS11_ENGINE",
             "CHECKUP_SIGN_TIMESTAMP_URL")


def need(*tools):
    missing = [t for t in tools if not shutil.which(t)]
    if missing:
        pytest.skip(f"needs {', '.join(missing)}")


def clean_env(**env) -> dict:
    full = {k: v for k, v in os.environ.items() if k not in SIGN_VARS}
    full.update({k: str(v) for k, v in env.items()})
    return full


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_ca(d: Path, name: str) -> None:
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key",
            "-out", f"{name}.pem", "-days", "2", "-subj", f"/CN=Throwaway {name}",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """ca.pem (trust anchor), cs.pem + cs.key (code signing, issued by ca), other.pem (a CA
    that issued nothing), cs-enc.key (cs.key under the password in good.pass)."""
    need("openssl", "osslsigncode")
    d = tmp_path_factory.mktemp("pki")
    make_ca(d, "ca")
    make_ca(d, "other")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "cs.key", "-out", "cs.csr",
            "-subj", "/CN=Example Corp code signing", cwd=d)
    (d / "ext.cnf").write_text("basicConstraints=critical,CA:FALSE\n"
                               "keyUsage=critical,digitalSignature\nextendedKeyUsage=codeSigning\n")
    openssl("x509", "-req", "-in", "cs.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "cs.pem", "-days", "2", "-extfile", "ext.cnf", cwd=d)
    openssl("pkey", "-in", "cs.key", "-aes256", "-passout", "pass:correct horse", "-out", "cs-enc.key", cwd=d)
    (d / "good.pass").write_text("correct horse\n")
    (d / "bad.pass").write_text("wrong\n")
    return d


def real_pe(name: str) -> Path:
    try:
        import pip._vendor.distlib as distlib
    except ImportError:
        pytest.skip("needs pip's distlib launchers as real PE files")
    exe = Path(distlib.__file__).parent / name
    if not exe.is_file():
        pytest.skip(f"pip has no {name}")
    assert exe.read_bytes()[:2] == b"MZ"
    return exe


@pytest.fixture
def windows_build(tmp_path):
    win = tmp_path / "windows" / "checkup"
    (win / "_internal" / "agent").mkdir(parents=True)
    shutil.copy(real_pe("t64.exe"), win / "checkup.exe")
    shutil.copy(real_pe("w64.exe"), win / "checkupw.exe")
    (win / "_internal" / "agent" / "default_policy.toml").write_text("[firewall]\nlevel = 'required'\n")
    return win


def build_msi(tmp_path, win, **env):
    need("wixl", "wixl-heat", "msiinfo", "msibuild", "msiextract")
    dist = tmp_path / "dist"
    proc = subprocess.run(["bash", str(BUILD), "msi"], capture_output=True, text=True, timeout=300,
                          cwd=ROOT, env=clean_env(CHECKUP_DIST=dist, CHECKUP_WORK=tmp_path / "work",
                                                  CHECKUP_WINDOWS_DIR=win, **env))
    return proc, dist


def verify(path: Path, ca: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["osslsigncode", "verify", "-CAfile", str(ca), "-in", str(path)],
                          capture_output=True, text=True)


def extracted_exes(msi: Path, into: Path) -> dict[str, Path]:
    into.mkdir()
    subprocess.run(["msiextract", "-C", str(into), str(msi)], check=True, capture_output=True)
    return {p.name: p for p in into.rglob("*.exe")}


def test_msi_build_signs_the_executables_then_the_msi(pki, windows_build, tmp_path):
    original = (windows_build / "checkup.exe").read_bytes()
    proc, dist = build_msi(tmp_path, windows_build, CHECKUP_SIGN_CERT=pki / "cs.pem",
                           CHECKUP_SIGN_KEY=pki / "cs.key")
    assert proc.returncode == 0, proc.stderr
    (msi,) = dist.glob("checkup-*-x64.msi")
    assert "signed" in proc.stdout and "NOT signed" not in proc.stderr
    ok = verify(msi, pki / "ca.pem")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "Signature verification: ok" in ok.stdout and "Example Corp code signing" in ok.stdout
    # The throwaway CA is the trust anchor: against another CA the same signature is refused.
    assert verify(msi, pki / "other.pem").returncode != 0
    # The executables inside the MSI are signed too; the Windows build itself is untouched.
    exes = extracted_exes(msi, tmp_path / "x")
    assert set(exes) == {"checkup.exe", "checkupw.exe"}
    for exe in exes.values():
        got = verify(exe, pki / "ca.pem")
        assert got.returncode == 0, got.stdout + got.stderr
    assert (windows_build / "checkup.exe").read_bytes() == original


def test_msi_build_without_signing_variables_says_it_is_unsigned(pki, windows_build, tmp_path):
    proc, dist = build_msi(tmp_path, windows_build)
    assert proc.returncode == 0, proc.stderr
    (msi,) = dist.glob("checkup-*-x64.msi")
    assert "are NOT signed" in proc.stderr and "CHECKUP_SIGN_CERT" in proc.stderr
    assert verify(msi, pki / "ca.pem").returncode != 0
    for exe in extracted_exes(msi, tmp_path / "x").values():
        assert verify(exe, pki / "ca.pem").returncode != 0


def test_a_key_that_is_not_the_certificates_fails_the_build_clearly(pki, windows_build, tmp_path):
    proc, dist = build_msi(tmp_path, windows_build, CHECKUP_SIGN_CERT=pki / "cs.pem",
                           CHECKUP_SIGN_KEY=pki / "ca.key")
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "checkup.exe" in lines[0] and "the key does not belong to the certificate" in lines[0]
    assert not list(dist.glob("*.msi"))


@pytest.mark.parametrize("env, message", [
    ({"CHECKUP_SIGN_KEY": "cs.key"}, "CHECKUP_SIGN_CERT (the certificate file) is not"),
    ({"CHECKUP_SIGN_CERT": "cs.pem"}, "no key: set CHECKUP_SIGN_KEY"),
    ({"CHECKUP_SIGN_CERT": "cs.pem", "CHECKUP_SIGN_KEY": "missing.key"}, "is not a readable file"),
    ({"CHECKUP_SIGN_PKCS11_URI": "pkcs11:token=x"}, "CHECKUP_SIGN_PKCS11_MODULE (the token's .so) is not"),
    ({"CHECKUP_SIGN_CERT": "cs.pem", "CHECKUP_SIGN_KEY": "cs.key", "CHECKUP_SIGN_PKCS11_URI": "pkcs11:token=x",
      "CHECKUP_SIGN_PKCS11_MODULE": "/x.so"}, "not both"),
], ids=["key-without-cert", "cert-without-key", "missing-key-file", "uri-without-module", "both"])
def test_incomplete_signing_configuration_stops_the_msi_build_before_it_starts(pki, windows_build, tmp_path,
                                                                              env, message):
    env = {k: (str(pki / v) if v.endswith((".key", ".pem")) else v) for k, v in env.items()}
    proc, dist = build_msi(tmp_path, windows_build, **env)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], proc.stderr
    assert not dist.exists() or not list(dist.glob("*.msi"))


def sign(path: Path, **env) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(SIGN), str(path)], capture_output=True, text=True,
                          timeout=60, env=clean_env(**env))


def test_a_password_protected_key_signs_with_its_password_file(pki, tmp_path):
    exe = tmp_path / "a.exe"
    shutil.copy(real_pe("t64.exe"), exe)
    bad = sign(exe, CHECKUP_SIGN_CERT=pki / "cs.pem", CHECKUP_SIGN_KEY=pki / "cs-enc.key",
               CHECKUP_SIGN_KEY_PASS_FILE=pki / "bad.pass")
    assert bad.returncode == 1 and "the key's password is wrong" in bad.stderr
    assert exe.read_bytes() == real_pe("t64.exe").read_bytes()     # left as it was
    assert not list(tmp_path.glob("*.tmp"))
    good = sign(exe, CHECKUP_SIGN_CERT=pki / "cs.pem", CHECKUP_SIGN_KEY=pki / "cs-enc.key",
                CHECKUP_SIGN_KEY_PASS_FILE=pki / "good.pass")
    assert good.returncode == 0, good.stderr
    assert verify(exe, pki / "ca.pem").returncode == 0


@pytest.fixture
def token(pki, tmp_path):
    """A SoftHSM token 'Checkup' holding the code-signing key as object 'codesign'."""
    need("softhsm2-util")
    if not SOFTHSM_MODULE.exists():
        pytest.skip(f"needs {SOFTHSM_MODULE} (Debian package softhsm2)")
    (tmp_path / "tokens").mkdir()
    conf = tmp_path / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tmp_path / 'tokens'}\nobjectstore.backend = file\n"
                    "log.level = ERROR\n")
    env = clean_env(SOFTHSM2_CONF=conf)
    subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", "Checkup", "--pin", "123456",
                    "--so-pin", "654321"], check=True, capture_output=True, env=env)
    openssl("pkcs8", "-topk8", "-nocrypt", "-in", "cs.key", "-out", str(tmp_path / "cs.p8"), cwd=pki)
    subprocess.run(["softhsm2-util", "--import", str(tmp_path / "cs.p8"), "--token", "Checkup",
                    "--label", "codesign", "--id", "01", "--pin", "123456"],
                   check=True, capture_output=True, env=env)
    (tmp_path / "cs.p8").unlink()
    (tmp_path / "pin").write_text("123456\n")
    (tmp_path / "bad-pin").write_text("000000\n")
    return {"SOFTHSM2_CONF": conf, "CHECKUP_SIGN_PKCS11_URI": "pkcs11:token=Checkup;object=codesign;type=private",
            "CHECKUP_SIGN_PKCS11_MODULE": SOFTHSM_MODULE, "CHECKUP_SIGN_CERT": pki / "cs.pem"}


def test_a_key_on_a_pkcs11_token_signs_the_msi(pki, token, windows_build, tmp_path):
    proc, dist = build_msi(tmp_path, windows_build, CHECKUP_SIGN_KEY_PASS_FILE=tmp_path / "pin", **token)
    assert proc.returncode == 0, proc.stderr
    (msi,) = dist.glob("checkup-*-x64.msi")
    ok = verify(msi, pki / "ca.pem")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    for exe in extracted_exes(msi, tmp_path / "x").values():
        assert verify(exe, pki / "ca.pem").returncode == 0


def test_a_wrong_token_pin_fails_clearly(pki, token, tmp_path):
    exe = tmp_path / "a.exe"
    shutil.copy(real_pe("w64.exe"), exe)
    bad = sign(exe, CHECKUP_SIGN_KEY_PASS_FILE=tmp_path / "bad-pin", **token)
    assert bad.returncode == 1
    assert len(bad.stderr.strip().splitlines()) == 1
    assert "token key pkcs11:token=Checkup" in bad.stderr
    assert "the token did not give the key: a wrong PIN" in bad.stderr
    assert verify(exe, pki / "ca.pem").returncode != 0


def test_a_named_openssl_engine_is_used_for_the_token(pki, token, tmp_path):
    engine = next((p for p in Path("/usr/lib").glob("*/engines-3/pkcs11.so")), None)
    if engine is None:
        pytest.skip("needs the pkcs11 engine (Debian package libengine-pkcs11-openssl)")
    exe = tmp_path / "a.exe"
    shutil.copy(real_pe("w64.exe"), exe)
    ok = sign(exe, CHECKUP_SIGN_KEY_PASS_FILE=tmp_path / "pin", CHECKUP_SIGN_PKCS11_ENGINE=engine, **token)
    assert ok.returncode == 0, ok.stderr
    assert verify(exe, pki / "ca.pem").returncode == 0
    missing = sign(exe, CHECKUP_SIGN_KEY_PASS_FILE=tmp_path / "pin",
                   CHECKUP_SIGN_PKCS11_ENGINE=tmp_path / "no-engine.so", **token)
    assert missing.returncode == 1 and len(missing.stderr.strip().splitlines()) == 1
    assert "osslsigncode says:" in missing.stderr
