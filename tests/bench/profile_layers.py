#!/usr/bin/env python3
"""Per-layer timing of a generated qcc library (one thread).

    python3 tests/bench/profile_layers.py OUT [--iters 30] [--cxx g++] [--top 20] [--work DIR]

Copies OUT's sources into a work folder, wraps each layer block of run_layers (and the
input quantize / output dequantize of NAME_run) in a timer, builds it with -O3
-march=native and runs NAME_run on random input. Prints the median time of each layer
over --iters runs, the slowest layers, and totals per kernel kind. The instrumented
copy only adds clock reads between the calls; the kernels are OUT's own headers.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

MAIN = r"""
#include "%(name)s.h"
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>
extern double qcc_prof_acc[];
extern const char *qcc_prof_name[];
extern int qcc_prof_count;
int main(int argc, char **argv) {
  const int iters = argc > 1 ? std::atoi(argv[1]) : 30;
  void *arena = std::aligned_alloc(64, (%(name)s_ARENA_BYTES + 63) / 64 * 64 + 64);
  std::vector<std::vector<float>> in(%(name)s_NUM_INPUTS), out(%(name)s_NUM_OUTPUTS);
  std::vector<const float *> ip;
  std::vector<float *> op;
  std::mt19937 rng(1);
  std::normal_distribution<float> nd(0.f, 1.f);
  for (int i = 0; i < %(name)s_NUM_INPUTS; ++i) {
    in[i].resize(size_t(%(name)s_input_numel[i]));
    for (auto &v : in[i]) v = nd(rng);
    ip.push_back(in[i].data());
  }
  for (int i = 0; i < %(name)s_NUM_OUTPUTS; ++i) {
    out[i].resize(size_t(%(name)s_output_numel[i]));
    op.push_back(out[i].data());
  }
  std::vector<std::vector<double>> t(static_cast<size_t>(qcc_prof_count));
  std::vector<double> total;
  for (int it = -3; it < iters; ++it) {
    for (int k = 0; k < qcc_prof_count; ++k) qcc_prof_acc[k] = 0;
    auto a = std::chrono::steady_clock::now();
    %(name)s_run(ip.data(), op.data(), arena, nullptr);
    double d = std::chrono::duration<double>(std::chrono::steady_clock::now() - a).count();
    if (it < 0) continue;
    total.push_back(d);
    for (int k = 0; k < qcc_prof_count; ++k) t[size_t(k)].push_back(qcc_prof_acc[k]);
  }
  auto med = [](std::vector<double> v) { std::sort(v.begin(), v.end()); return v[v.size() / 2]; };
  std::printf("total %%.4f\n", med(total) * 1e3);
  for (int k = 0; k < qcc_prof_count; ++k)
    std::printf("layer %%d %%.4f %%s\n", k, med(t[size_t(k)]) * 1e3, qcc_prof_name[k]);
  std::free(arena);
  return 0;
}
"""


def instrument(src):
    lines = src.split("\n")
    out, names, comment = [], [], []
    in_layers = False
    depth_open = None
    for line in lines:
        if line.startswith("void run_layers("):
            in_layers = True
        if in_layers and line.startswith("  // "):
            comment.append(line[5:])
        if in_layers and line == "  {":
            label = comment[0] if comment else "?"
            names.append(label + " | " + " ".join(c.strip() for c in comment[1:]))
            comment = []
            out.append("  { auto qcc_t0 = qcc_prof_clock();")
            depth_open = len(names) - 1
            continue
        if in_layers and line == "  }" and depth_open is not None:
            out.append("  qcc_prof_acc[%d] += qcc_prof_clock() - qcc_t0; }" % depth_open)
            depth_open = None
            continue
        if in_layers and line == "}":
            in_layers = False
        m = re.match(r"^(\s+)(qcc_rt::(quantize|dequantize)\(.*\);)$", line)
        if m and not in_layers:
            names.append(m.group(3) + " (entry point) | ")
            out.append("%s{ auto qcc_t0 = qcc_prof_clock(); %s qcc_prof_acc[%d] += qcc_prof_clock() - qcc_t0; }"
                       % (m.group(1), m.group(2), len(names) - 1))
            continue
        if line.startswith("  if (outputs[0])") or line.startswith("  if (outputs["):
            out.append(line + " {")
            out.append("__CLOSE_NEXT__")
            continue
        out.append(line)
    # Close the braces opened for `if (outputs[k])` single-statement bodies.
    fixed = []
    close = False
    for line in out:
        if line == "__CLOSE_NEXT__":
            close = True
            continue
        fixed.append(line)
        if close:
            fixed.append("  }")
            close = False
    head = ("#include <chrono>\n"
            "double qcc_prof_acc[%d];\n"
            "int qcc_prof_count = %d;\n"
            "extern const char *qcc_prof_name[];\n"
            "const char *qcc_prof_name[] = {%s};\n"
            "static inline double qcc_prof_clock() {\n"
            "  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();\n"
            "}\n") % (max(len(names), 1), len(names),
                      ", ".join('"%s"' % n.replace("\\", "\\\\").replace('"', "'") for n in names))
    return head + "\n".join(fixed), names


def kind(name):
    m = re.search(r"\((qcc::\w+|\w+)\)", name.split("|")[0])
    op = m.group(1) if m else name.split("|")[0].strip()
    detail = name.split("|")[1] if "|" in name else ""
    if op == "qcc::QConv":
        g = re.search(r"(\d+)x(\d+) stride (\d+)x\d+ .* group (\d+)", detail)
        c = re.search(r"in .*?\[(\d+), (\d+),", detail)
        if g:
            kk, group = int(g.group(1)), int(g.group(4))
            cin = int(c.group(2)) if c else 0
            if group > 1 and group == cin:
                return "conv depthwise %sx%s s%s" % (g.group(1), g.group(2), g.group(3))
            return "conv %sx%s%s" % (g.group(1), g.group(2), " (K<=96, float lanes)" if cin // group * kk * int(g.group(2)) <= 96 else "")
    return op


def macs(name):
    """Multiply-adds of a QConv / QGemm layer from its comment, else 0."""
    detail = name.split("|")[1] if "|" in name else ""
    shapes = re.findall(r"\[([0-9, ]+)\]", detail)
    if len(shapes) < 2:
        return 0
    xin = [int(v) for v in shapes[0].split(",")]
    out = [int(v) for v in shapes[1].split(",")]
    n_out = 1
    for v in out:
        n_out *= v
    g = re.search(r"(\d+)x(\d+) stride .* group (\d+)", detail)
    if g and len(xin) == 4:
        return n_out * xin[1] // int(g.group(3)) * int(g.group(1)) * int(g.group(2))
    fc = re.search(r"fully connected (\d+)x(\d+) -> (\d+)", detail)
    if fc:
        return int(fc.group(1)) * int(fc.group(2)) * int(fc.group(3))
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("--iters", type=int, default=30)
    ap.add_argument("--cxx", default=os.environ.get("CXX", "g++"))
    ap.add_argument("--top", type=int, default=20)
    ap.add_argument("--work")
    ap.add_argument("--flags", default="-O3 -march=native")
    args = ap.parse_args()
    hdr = [f for f in os.listdir(args.out) if f.endswith(".h") and not f.startswith("qcc")]
    name = hdr[0][:-2]
    work = args.work or tempfile.mkdtemp(prefix="qcc_prof_")
    os.makedirs(work, exist_ok=True)
    for f in os.listdir(args.out):
        p = os.path.join(args.out, f)
        if os.path.isdir(p):
            shutil.copytree(p, os.path.join(work, f), dirs_exist_ok=True)
        else:
            shutil.copy(p, work)
    with open(os.path.join(args.out, name + ".cpp")) as f:
        src, names = instrument(f.read())
    with open(os.path.join(work, name + ".cpp"), "w") as f:
        f.write(src)
    with open(os.path.join(work, "prof_main.cpp"), "w") as f:
        f.write(MAIN % {"name": name})
    exe = os.path.join(work, "prof")
    objs = []
    for s in (name + ".cpp", name + "_weights.cpp", "prof_main.cpp"):
        if not os.path.exists(os.path.join(work, s)):
            continue
        o = os.path.join(work, s + ".o")
        if s.endswith("_weights.cpp") and os.path.exists(o):
            objs.append(o)
            continue
        subprocess.run([args.cxx, "-std=c++17", *args.flags.split(), "-ffp-contract=off", "-I", work, "-c",
                        os.path.join(work, s), "-o", o], check=True)
        objs.append(o)
    subprocess.run([args.cxx, *objs, "-o", exe], check=True)
    r = subprocess.run([exe, str(args.iters)], capture_output=True, text=True, check=True)
    rows, total = [], 0.0
    for line in r.stdout.splitlines():
        if line.startswith("total"):
            total = float(line.split()[1])
        elif line.startswith("layer"):
            _, k, ms, label = line.split(" ", 3)
            rows.append((float(ms), int(k), label))
    print(f"{name}: total median {total:.3f} ms, sum of layer medians {sum(r[0] for r in rows):.3f} ms")
    kinds = {}
    for ms, _, label in rows:
        k = kind(label)
        kinds.setdefault(k, [0.0, 0, 0])
        kinds[k][0] += ms
        kinds[k][1] += 1
        kinds[k][2] += macs(label)
    print("\nper kernel kind (GMAC/s where the layers multiply):")
    for k, (ms, n, mc) in sorted(kinds.items(), key=lambda kv: -kv[1][0]):
        rate = f"{mc / (ms * 1e-3) * 1e-9:6.1f} GMAC/s" if mc and ms > 0 else ""
        print(f"  {ms:7.3f} ms  {n:3d}x  {k:32s} {rate}")
    print(f"\nslowest {args.top} layers:")
    for ms, k, label in sorted(rows, reverse=True)[:args.top]:
        mc = macs(label)
        rate = f"{mc / (ms * 1e-3) * 1e-9:6.1f} GMAC/s " if mc and ms > 0 else ""
        print(f"  {ms:7.3f} ms  #{k:<3d} {rate}{label[:140]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
