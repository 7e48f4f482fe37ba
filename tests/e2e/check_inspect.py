#!/usr/bin/env python3
"""`qcc inspect` totals against independent references.

Parameters: the element count of every initializer, summed with the onnx
package. MACs: torchvision's published figures (ResNet-18 1.81 GFLOPS and
MobileNetV2 0.30 GFLOPS, where torchvision's "FLOPS" count multiply-adds), within
1% of the published rounding.

    python3 tests/e2e/check_inspect.py QCC_BINARY
"""
import os
import re
import subprocess
import sys

import numpy as np
import onnx

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CASES = [("resnet18", 1.81e9, 0.01), ("mobilenetv2", 0.30e9, 0.02)]


def main():
    qcc = sys.argv[1]
    passed = failed = 0
    for name, macs_ref, tol in CASES:
        path = f"{ROOT}/models/{name}/model.onnx"
        out = subprocess.run([qcc, "inspect", path], capture_output=True, text=True, check=True).stdout
        params = int(re.search(r"^params\s+(\d+)", out, re.M).group(1))
        macs = int(re.search(r"^MACs\s+(\d+)", out, re.M).group(1))
        m = onnx.load(path)
        params_ref = sum(int(np.prod(t.dims)) for t in m.graph.initializer)
        ok_params = params == params_ref
        ok_macs = abs(macs - macs_ref) / macs_ref <= tol
        verdict = "ok  " if ok_params and ok_macs else "FAIL"
        print(f"{verdict} {name}: params {params} (onnx initializers {params_ref}), MACs {macs} "
              f"(torchvision {macs_ref:.3g})")
        passed += ok_params and ok_macs
        failed += not (ok_params and ok_macs)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
