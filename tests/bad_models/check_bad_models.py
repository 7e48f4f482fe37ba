#!/usr/bin/env python3
"""Runs qcc on the corpus of broken models and checks that it fails cleanly.

Usage:
    python3 tests/bad_models/check_bad_models.py QCC_BINARY [--filter TEXT] [-v]

For every entry of expected.json (see make_bad_models.py) qcc runs in a fresh
temporary working folder ("run" cases write -o into it) and must:
  - exit with status 2 exactly (no signal, no crash, no other status),
  - print no sanitizer report ("AddressSanitizer", "runtime error:"),
  - name every must_contain substring in stderr (an inner list: any one of),
  - write nothing into the temporary folder and nothing to stdout.
Control entries ("expect": "success") must exit 0 instead. Prints one line per
case and "N passed, N failed"; exits 1 if any case failed.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
TIMEOUT_S = 10
SANITIZER_MARKS = ("AddressSanitizer", "LeakSanitizer", "runtime error:")
# A few-byte file that makes qcc allocate gigabytes must fail here (bad_alloc,
# a crash) rather than swap the machine: uninstrumented builds run under an
# address-space cap; ASan/MSan/TSan reserve terabytes of address space, so they
# get an allocation-size limit instead (exceeding it is a sanitizer report).
ADDRESS_SPACE_CAP = 4 << 30
SANITIZER_ALLOC_LIMIT = "max_allocation_size_mb=4096"


def is_shadow_sanitized(binary):
    with open(binary, "rb") as f:
        image = f.read()
    return any(mark in image for mark in (b"__asan_init", b"__msan_init", b"__tsan_init"))


def cap_address_space():
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE_CAP, ADDRESS_SPACE_CAP))


def build_command(qcc, entry, work, scratch):
    """The qcc command line for `entry` and the file names it passes; `work` is
    the folder qcc must leave empty."""
    model = os.path.join(HERE, entry["file"])
    cmd = [qcc, entry["command"], model] + entry.get("args", [])
    paths = [model]
    if entry["command"] == "run":
        if entry.get("input_kind") == "empty_dir":
            data = os.path.join(scratch, "empty_input_dir")
            os.mkdir(data)
        else:
            data = os.path.join(HERE, entry.get("input", "good_input.npy"))
        cmd += ["--input", data, "-o", os.path.join(work, "out.npy")]
        paths.append(data)
    elif entry["command"] in ("compile", "calibrate") and "input" in entry or entry.get("input_kind") == "empty_dir":
        if entry.get("input_kind") == "empty_dir":
            data = os.path.join(scratch, "empty_input_dir")
            os.mkdir(data)
        else:
            data = os.path.join(HERE, entry["input"])
        out = "out" if entry["command"] == "compile" else "profile.json"
        cmd += ["--calib", data, "-o", os.path.join(work, out)]
        paths.append(data)
    elif entry["command"] in ("compile", "calibrate"):
        out = "out" if entry["command"] == "compile" else "profile.json"
        cmd += ["-o", os.path.join(work, out)]
    for a in entry.get("args", []):
        if a.endswith(".json"):
            paths.append(os.path.join(HERE, a))
    cmd = [os.path.join(HERE, a) if a.endswith(".json") else a for a in cmd]
    return cmd, paths


def missing_substrings(text, must_contain, paths):
    """must_contain items not found in `text`. A file name must appear as given;
    every other item is looked for with the file paths blanked out, so that a
    keyword like "cycle" cannot be satisfied by the file name alone."""
    names = [os.path.basename(p.rstrip("/")) for p in paths]
    blanked = text
    for p in sorted(paths + names, key=len, reverse=True):
        blanked = blanked.replace(p, "<file>")
    missing = []
    for want in must_contain:
        options = want if isinstance(want, list) else [want]
        if not any(o in (text if o in names else blanked) for o in options):
            missing.append(" | ".join(repr(o) for o in options))
    return missing


def leftover_files(work):
    found = []
    for root, dirs, files in os.walk(work):
        found += [os.path.relpath(os.path.join(root, n), work) for n in files + dirs]
    return sorted(found)


def first_line(text):
    """The line that says what went wrong: a sanitizer's or the C++ runtime's
    report where there is one, otherwise the first non-empty line."""
    lines = [l.strip() for l in text.splitlines() if l.strip()]
    for line in lines:
        if any(m in line for m in SANITIZER_MARKS + ("terminate called",)):
            return line
    return lines[0] if lines else "(empty)"


def check_case(qcc, entry, capped):
    """Returns (ok, reason, stderr)."""
    with tempfile.TemporaryDirectory(prefix="qcc_bad_") as root:
        work = os.path.join(root, "work")
        scratch = os.path.join(root, "scratch")
        os.mkdir(work)
        os.mkdir(scratch)
        cmd, paths = build_command(qcc, entry, work, scratch)
        try:
            proc = subprocess.run(cmd, cwd=work, capture_output=True, timeout=TIMEOUT_S,
                                  stdin=subprocess.DEVNULL, preexec_fn=cap_address_space if capped else None)
        except subprocess.TimeoutExpired:
            return False, f"timed out after {TIMEOUT_S}s", ""
        out = proc.stdout.decode("utf-8", "replace")
        err = proc.stderr.decode("utf-8", "replace")
        rc = proc.returncode
        if entry.get("expect") == "success":
            problems = []
            if rc != 0:
                problems.append(f"exit {rc}, expected 0: {first_line(err)}")
            if entry["command"] == "compile" and not os.path.isfile(os.path.join(work, "out", "model.qcc.onnx")):
                problems.append("no compiled model written")
            if entry["command"] == "run" and not os.path.isfile(os.path.join(work, "out.npy")):
                problems.append("no output written")
            problems += ["stdout lacks " + m for m in missing_substrings(out, entry["must_contain"], paths)]
            return not problems, "; ".join(problems), err
        problems = []
        if rc < 0:
            problems.append(f"killed by signal {-rc}")
        elif rc != 2:
            problems.append(f"exit {rc}, expected 2")
        for mark in SANITIZER_MARKS:
            if mark in err:
                problems.append(f"sanitizer report ({mark.rstrip(':')})")
        missing = missing_substrings(err, entry["must_contain"], paths)
        if missing:
            problems.append("stderr lacks " + ", ".join(missing))
        if out.strip():
            problems.append(f"stdout not empty: {first_line(out)!r}")
        left = leftover_files(work)
        if left:
            problems.append("wrote " + ", ".join(left))
        if problems:
            problems.append(f"message: {first_line(err)!r}")
        return not problems, "; ".join(problems), err


def case_label(entry):
    label = f"{entry['command']} {entry['file']}"
    if entry["command"] == "run":
        label += " --input " + ("<empty dir>" if entry.get("input_kind") == "empty_dir"
                                else entry.get("input", "good_input.npy"))
    if entry.get("args"):
        label += " " + " ".join(entry["args"])
    return label


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("qcc", help="path to the qcc binary")
    ap.add_argument("--filter", default="", help="only cases whose label contains TEXT")
    ap.add_argument("-v", "--verbose", action="store_true", help="print each case's stderr")
    args = ap.parse_args()
    qcc = os.path.abspath(args.qcc)
    if not os.access(qcc, os.X_OK):
        print(f"check_bad_models: {args.qcc} is not an executable", file=sys.stderr)
        return 1
    with open(os.path.join(HERE, "expected.json")) as f:
        entries = [e for e in json.load(f) if args.filter in case_label(e)]

    capped = not is_shadow_sanitized(qcc)
    if not capped:
        for var in ("ASAN_OPTIONS", "MSAN_OPTIONS", "TSAN_OPTIONS"):
            os.environ[var] = ":".join(o for o in (os.environ.get(var), SANITIZER_ALLOC_LIMIT) if o)
    failed = 0
    for entry in entries:
        ok, reason, err = check_case(qcc, entry, capped)
        failed += not ok
        line = f"{'ok  ' if ok else 'FAIL'} {case_label(entry)}  ({entry['why']})"
        if not ok:
            line += "\n       " + reason
        print(line)
        if args.verbose and err.strip():
            print("       stderr: " + err.strip().replace("\n", "\n               "))
    print(f"{len(entries) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
