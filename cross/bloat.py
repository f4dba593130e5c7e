#!/usr/bin/env python3
"""cross/bloat.py — what costs the most in a cross binary (like `cargo bloat`, for any ELF).

Usage: bloat.py LLVM_TOOLS_BIN UNSTRIPPED_BINARY [TOP]
Prints the sections, the code size per crate (Rust symbols by their first path segment,
C symbols of musl/zig's libc and libunwind together) and the TOP biggest functions.
Sizes are of the unstripped, LTO'd binary: inlined code counts for the function it was
inlined into. Run by `cross/build.sh bloat` (make cross-bloat).
"""
import collections
import re
import subprocess
import sys


def main():
    tools, binary = sys.argv[1], sys.argv[2]
    top = int(sys.argv[3]) if len(sys.argv) > 3 else 30
    print(subprocess.run([f"{tools}/llvm-size", "-A", binary], check=True,
                         capture_output=True, text=True).stdout)
    nm = subprocess.run([f"{tools}/llvm-nm", "--size-sort", "-S", "-t", "d", "--demangle", binary],
                        check=True, capture_output=True, text=True).stdout
    at = {}  # address -> (size, name): aliases (pthread_create, __pthread_create) count once
    for line in nm.splitlines():
        parts = line.split(None, 3)
        if len(parts) < 4 or parts[2] not in "tTwW":
            continue
        addr, size, name = parts[0], int(parts[1]), parts[3].strip()
        if size > at.get(addr, (-1, ""))[0]:
            at[addr] = (size, name)
    funcs = list(at.values())
    crates = collections.Counter()
    for size, name in funcs:
        m = re.match(r"^<?(?:&(?:mut )?)?(?:dyn )?([A-Za-z_][A-Za-z0-9_]*)::", name)
        if "libunwind::" in name or name.startswith(("_Unwind_", "unw_", "__unw_")):
            crate = "[libunwind (C++)]"
        elif m:
            crate = m.group(1)
        elif "::" not in name and "<" not in name:
            crate = "[C: libc (musl + zig), compiler-rt]"
        else:
            crate = "[methods of str, char, slices... (core)]"
        crates[crate] += size
    total = sum(crates.values())
    print(f"code by crate (functions: {total} bytes, {total / 1024:.1f} KiB)")
    for crate, size in crates.most_common(20):
        print(f"{size:9d} {size / 1024:7.1f} KiB {100 * size / total:5.1f}%  {crate}")
    print(f"\nthe {top} biggest functions")
    for size, name in sorted(funcs, reverse=True)[:top]:
        print(f"{size:9d}  {name[:110]}")


if __name__ == "__main__":
    main()
