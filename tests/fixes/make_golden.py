"""Write tests/fixes/golden.json: fix_for's answer for every case the tests and fixtures cover.

    PYTHONPATH=$PWD python3 tests/fixes/make_golden.py [calls.jsonl ...]

The cases are the calls the tests made (recorded once, kept in golden.json), crossed with every
check, platform, release and desktop they name. Run it again only when a fix text changes on
purpose; review the diff of golden.json like any other change.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).parent
GOLDEN = HERE / "golden.json"

CHECKS = ["antivirus", "automatic_updates", "disk_encryption", "firewall", "gatekeeper", "os_version",
          "remote_login", "screen_lock", "security_software", "system_integrity", "no_such_check"]
GARBAGE = ["", "abc", "10.0", None, "99", "1.2.3.4.5", " 14.4 ", "14.4.1 (a)", "10", "0", "-1", "14..2",
           "25.0", "10.0.99999999999999999999.1", 42]
PLATFORMS = ["darwin", "windows", "linux", "freebsd", "", "macos", "win32", "Linux"]
DESKTOPS = [None, "gnome", "kde", "GNOME", "xfce"]
CASES = ([("darwin", v, None) for v in ["12.7", "13.6", "14.4.1", "15.1", "26.1"]]
         + [("windows", v, None) for v in ["10.0.19045.4291", "10.0.22631.3447"]]
         + [("linux", v, d) for v in ("22.04", "24.04") for d in ("gnome", "kde", None)])


def key(case: list) -> str:
    return json.dumps(case, sort_keys=True)


def cases(recorded: list[list]) -> list[list]:
    out: dict[str, list] = {}
    for c in recorded:
        out[key(c)] = c
    versions = sorted({json.dumps(c[2]) for c in recorded} | {json.dumps(v) for v in GARBAGE})
    for check in CHECKS:
        for plat in PLATFORMS:
            for v in versions:
                for d in DESKTOPS if plat.lower() == "linux" else [None, "gnome"]:
                    c = [check, plat, json.loads(v), d, {}]
                    out.setdefault(key(c), c)
    # every observed value the tests use, for its check, on every representative release
    pairs = {key([c[0], c[4]]): (c[0], c[4]) for c in recorded if c[4]}
    for check, obs in pairs.values():
        for plat, v, d in CASES:
            c = [check, plat, v, d, obs]
            out.setdefault(key(c), c)
    return [out[k] for k in sorted(out)]


def answers(all_cases: list[list]) -> dict:
    from agent.fixes import fix_for
    table: list[dict] = []
    index: dict[str, int] = {}
    rows = []
    for c in all_cases:
        fix = fix_for(c[0], c[1], c[2], desktop=c[3], observed=c[4])
        k = key(fix)
        if k not in index:
            index[k] = len(table)
            table.append(fix)
        rows.append([*c, index[k]])
    return {"cases": rows, "answers": table}


def main(argv: list[str]) -> int:
    recorded: list[list] = []
    if GOLDEN.exists():
        recorded = [r[:5] for r in json.loads(GOLDEN.read_text())["cases"]]
    for path in argv:
        recorded += [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
    data = answers(cases(recorded))
    with GOLDEN.open("w") as f:
        f.write('{"answers": [\n')
        f.write(",\n".join(json.dumps(a, sort_keys=True, ensure_ascii=False) for a in data["answers"]))
        f.write('\n],\n"cases": [\n')
        f.write(",\n".join(json.dumps(r, sort_keys=True, ensure_ascii=False) for r in data["cases"]))
        f.write("\n]}\n")
    print(f"{len(data['cases'])} cases, {len(data['answers'])} distinct answers -> {GOLDEN}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parent.parent))
    raise SystemExit(main(sys.argv[1:]))
