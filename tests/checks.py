"""What the Python test scripts (tests/package_test.py, tests/openwrt/procd_test.py) share:
the check that counts and prints each result, the summary and exit status, and the qemu-user
runner of each cross target, read from cross/targets (the one list)."""

import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

passed = 0
failed = 0


def check(what, ok, detail=""):
    """One check: `ok   what`, or `FAIL what` and the detail; counted either way."""
    global passed, failed
    if ok:
        passed += 1
        print(f"ok   {what}")
    else:
        failed += 1
        print(f"FAIL {what}\n     {detail}")


def finish():
    """Prints "N passed, N failed" and exits 1 if any failed."""
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


def qemu_runners():
    """Rust triple -> the qemu-user that runs its binaries here (cross/targets)."""
    out = {}
    with open(os.path.join(REPO, "cross", "targets")) as f:
        for line in f:
            w = line.split()
            if w and not w[0].startswith("#"):
                out[w[0]] = w[1]
    return out


def qemu_for_openwrt_arch(arch):
    """The qemu-user for an OpenWrt architecture (arm_cortex-a7_neon-vfpv4, mipsel_24kc,
    aarch64_cortex-a53, mips_24kc): the target whose CPU is its first word."""
    word = arch.split("_")[0]
    for triple, runner in qemu_runners().items():
        cpu = triple.split("-")[0]
        if cpu == word or (word == "arm" and cpu.startswith("armv")):
            return runner
    raise KeyError(f"no cross target for the OpenWrt architecture {arch}")
