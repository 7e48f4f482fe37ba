#!/usr/bin/env bash
# Installs what qcc needs on a fresh Debian 12 machine: build dependencies from
# Debian, and the Python packages the tests use as references (never linked into
# qcc). Safe to run again: it skips what is already there.
set -euo pipefail

debs=(build-essential cmake ninja-build pkg-config
      libonnx-dev libprotobuf-dev protobuf-compiler llvm-dev libfmt-dev
      libopenblas-dev libzip-dev zlib1g-dev googletest libgtest-dev
      libonnx-testdata python3 python3-pip clang)
missing=()
for p in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Python references for tests: numpy, onnx, onnxruntime, qonnx (its executor).
if ! python3 -c "import numpy, onnx, onnxruntime, qonnx.core.onnx_exec" 2>/dev/null; then
  echo "setup: installing Python test packages (numpy, onnx, onnxruntime, qonnx)"
  python3 -m pip install -q numpy onnx onnxruntime qonnx 2>/dev/null ||
    python3 -m pip install -q --break-system-packages numpy onnx onnxruntime qonnx
fi
echo "setup: ok"
