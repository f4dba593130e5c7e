#!/usr/bin/env python3
"""`make package`: OpenWrt packages (.ipk, for opkg: OpenWrt 24.10 and before) and Debian
packages (.deb) from the binaries in dist/ (`make cross`).

    python3 cross/package.py [DIST]       (default dist; packages go to DIST/packages)

OpenWrt: one package per flavour (edgeftpd, edgeftpd-tls) and per OpenWrt architecture
that the static binary of one Rust target runs on (OPENWRT_ARCHES below), made as
OpenWrt's scripts/ipkg-build makes them: a gzipped tar of ./debian-binary, ./data.tar.gz
and ./control.tar.gz, every file root's, sorted, with one mtime (SOURCE_DATE_EPOCH, else
the last commit's). The files: /usr/sbin/edgeftpd, the procd init script, /etc/config/edgeftpd
(a conffile: opkg keeps the admin's; the plain flavour's has no TLS options), and
/lib/upgrade/keep.d/edgeftpd (sysupgrade keeps /etc/edgeftpd/, where the FTPS certificate
is made). The same files, for OpenWrt 25's apk (apk-tools 3), as NAME-VERSION.apk under
DIST/packages/openwrt-apk/ARCH/, written by cross/apk.py as `apk mkpkg` writes them in
OpenWrt's build (include/package-pack.mk): with /lib/apk/packages/NAME.list, .conffiles
and .conffiles_static, the postinst as the post-install script (and, with PKG_UPGRADE=1,
post-upgrade), the prerm as pre-deinstall; unsigned, as OpenWrt's packages are (its
feeds sign the index).

Debian: edgeftpd_VERSION_ARCH.deb for armhf and arm64 (the static -tls binaries) and amd64
(the host's release build), made with dpkg-deb: the binary, a hardened systemd unit,
/etc/edgeftpd/edgeftpd.conf (a conffile), and maintainer scripts that add the system user
edgeftpd and enable the unit only when the admin asks (see cross/debian/postinst).
"""

import gzip
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tomllib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import apk  # noqa: E402  (cross/apk.py)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DIST = os.path.join(ROOT, "dist")  # (main: the command line's DIST)
OUT = os.path.join(DIST, "packages")

# Rust target -> the OpenWrt architectures (opkg's Architecture field) whose CPUs run it.
# armv7 is built for VFPv3-D16 with hard float, so only targets with an FPU are listed
# (bcm53xx's Cortex-A9 has none); mipsel and mips are MIPS32r2 (24Kc, 74Kc).
OPENWRT_ARCHES = {
    "armv7-unknown-linux-musleabihf": [
        "arm_cortex-a7_neon-vfpv4",
        "arm_cortex-a8_vfpv3",
        "arm_cortex-a9_neon",
        "arm_cortex-a9_vfpv3-d16",
        "arm_cortex-a15_neon-vfpv4",
    ],
    "aarch64-unknown-linux-musl": ["aarch64_cortex-a53", "aarch64_cortex-a72", "aarch64_generic"],
    "mipsel-unknown-linux-musl": ["mipsel_24kc", "mipsel_74kc"],
    "mips-unknown-linux-musl": ["mips_24kc"],
}

# Debian architecture -> the binary it ships.
DEBIAN_ARCHES = {
    "armhf": "edgeftpd-tls-armv7-unknown-linux-musleabihf",
    "arm64": "edgeftpd-tls-aarch64-unknown-linux-musl",
    "amd64": None,  # the host's release build: target/release/edgeftpd
}

DESCRIPTION = """A small, fast FTP server for routers and NAS boxes
 edgeftpd serves USB disks to FileZilla, curl, phones, scanners and cameras:
 anonymous or per-account access, drop boxes and per-folder rights, quotas,
 a free-space guard, upload hooks, checksums, and every upload synced to the
 disk before it is acknowledged. One static binary."""


def version():
    with open(os.path.join(ROOT, "Cargo.toml"), "rb") as f:
        return tomllib.load(f)["package"]["version"]


def mtime():
    if "SOURCE_DATE_EPOCH" in os.environ:
        return int(os.environ["SOURCE_DATE_EPOCH"])
    out = subprocess.run(["git", "-C", ROOT, "log", "-1", "--format=%ct"],
                         capture_output=True, text=True)
    return int(out.stdout.strip() or 0)


def tar_gz(entries, when):
    """A gzipped tar (bytes) of `entries`: (name, mode, bytes or None for a directory),
    root's, sorted by name, with ./ before each name as ipkg-build's tar writes it."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as t:
        t.addfile(dir_info("./", when))
        for name, mode, data in sorted(entries, key=lambda e: e[0]):
            if data is None:
                t.addfile(dir_info("./" + name + "/", when, mode))
                continue
            info = tarfile.TarInfo("./" + name)
            info.size, info.mode, info.mtime = len(data), mode, when
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            t.addfile(info, io.BytesIO(data))
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=when, compresslevel=9) as g:
        g.write(raw.getvalue())
    return out.getvalue()


def dir_info(name, when, mode=0o755):
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.mtime = tarfile.DIRTYPE, mode, when
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


def with_dirs(files):
    """`files` and every directory above them, as tar_gz entries."""
    dirs = set()
    for name, _, _ in files:
        parts = name.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            dirs.add("/".join(parts[:i]))
    return [(d, 0o755, None) for d in dirs] + files


def read(path):
    with open(path, "rb") as f:
        return f.read()


def openwrt_config(tls):
    """/etc/config/edgeftpd; the plain flavour has no TLS options (it would refuse them)."""
    text = read(os.path.join(ROOT, "cross/openwrt/edgeftpd.config")).decode()
    if not tls:
        text = "".join(l for l in text.splitlines(True) if "option tls_" not in l)
    return text.encode()


def openwrt_files(triple, tls):
    """The package's files (path, mode, bytes), .ipk's and .apk's alike."""
    name = "edgeftpd-tls" if tls else "edgeftpd"
    binary = read(os.path.join(DIST, f"{name}-{triple}"))
    return [
        ("usr/sbin/edgeftpd", 0o755, binary),
        ("etc/init.d/edgeftpd", 0o755, read(os.path.join(ROOT, "cross/openwrt/edgeftpd.init"))),
        ("etc/config/edgeftpd", 0o600, openwrt_config(tls)),
        ("lib/upgrade/keep.d/edgeftpd", 0o644, b"/etc/edgeftpd/\n"),
        ("etc/capabilities/edgeftpd.json", 0o644,
         read(os.path.join(ROOT, "cross/openwrt/edgeftpd.capabilities.json"))),
    ]


def ipk(triple, arch, tls, ver, when):
    name = "edgeftpd-tls" if tls else "edgeftpd"
    files = with_dirs(openwrt_files(triple, tls))
    data = tar_gz(files, when)
    other = "edgeftpd" if tls else "edgeftpd-tls"
    flavour = "with FTPS (rustls)" if tls else "plain FTP, the smallest"
    # No Depends: the binary is static. (An empty "Depends:" line crashes opkg: seen with
    # opkg-lede 2024-10, a NULL package name in parseDepends.)
    control = (
        f"Package: {name}\n"
        f"Version: {ver}-r1\n"
        f"Provides: edgeftpd\n"
        f"Conflicts: {other}\n"
        "Source: edgeftpd\n"
        "SourceName: edgeftpd\n"
        "Section: net\n"
        "Maintainer: edgeftpd developers\n"
        f"Architecture: {arch}\n"
        f"Installed-Size: {sum(len(d) for _, _, d in files if d is not None)}\n"
        f"Description: {DESCRIPTION.splitlines()[0]} ({flavour})\n"
        + "".join(l + "\n" for l in DESCRIPTION.splitlines()[1:])
    )
    scripts = os.path.join(ROOT, "cross/openwrt")
    ctl = tar_gz([
        ("control", 0o644, control.encode()),
        ("conffiles", 0o644, b"/etc/config/edgeftpd\n"),
        ("postinst", 0o755, read(os.path.join(scripts, "postinst"))),
        ("prerm", 0o755, read(os.path.join(scripts, "prerm"))),
    ], when)
    outer = tar_gz([
        ("debian-binary", 0o644, b"2.0\n"),
        ("data.tar.gz", 0o644, data),
        ("control.tar.gz", 0o644, ctl),
    ], when)
    path = os.path.join(OUT, "openwrt", f"{name}_{ver}-r1_{arch}.ipk")
    with open(path, "wb") as f:
        f.write(outer)
    return path


def apk_package(triple, arch, tls, ver, when, release=1, out=None, made=None):
    """OpenWrt 25's .apk of one flavour and architecture (see the head), release `release`,
    into `out` (default DIST/packages/openwrt-apk/ARCH); (its info, its size) is appended
    to `made` for the index."""
    name = "edgeftpd-tls" if tls else "edgeftpd"
    files = openwrt_files(triple, tls)
    listed = sorted("/" + p for p, _, _ in files)
    conf = dict((p, d) for p, _, d in files)["etc/config/edgeftpd"]
    files += [
        (f"lib/apk/packages/{name}.list", 0o644, "".join(p + "\n" for p in listed).encode()),
        (f"lib/apk/packages/{name}.conffiles", 0o644, b"/etc/config/edgeftpd\n"),
        (f"lib/apk/packages/{name}.conffiles_static", 0o644,
         f"/etc/config/edgeftpd {hashlib.sha256(conf).hexdigest()}\n".encode()),
    ]
    scripts = os.path.join(ROOT, "cross/openwrt")
    postinst = read(os.path.join(scripts, "postinst"))
    body = postinst.split(b"\n", 1)[1]
    flavour = "with FTPS (rustls)" if tls else "plain FTP, the smallest"
    info = {
        "name": name, "version": f"{ver}-r{release}", "arch": arch, "origin": "edgeftpd",
        "maintainer": "edgeftpd developers", "url": "",
        "description": f"{DESCRIPTION.splitlines()[0]} ({flavour})",
        # The plain one is the default variant (provider-priority 100, as OpenWrt's
        # DEFAULT_VARIANT); the -tls one provides edgeftpd too.
        "provides": [f"edgeftpd={ver}-r{release}"] if tls else [],
        "provider_priority": 0 if tls else 100,
    }
    data = apk.package(info, with_dirs(files), {
        "post-install": postinst,
        "post-upgrade": b"#!/bin/sh\nexport PKG_UPGRADE=1\n" + body,
        "pre-deinstall": read(os.path.join(scripts, "prerm")),
    }, when)
    path = os.path.join(out or os.path.join(OUT, "openwrt-apk", arch),
                        f"{name}-{ver}-r{release}.apk")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    if made is not None:
        made.append((info, len(data)))
    return path


def apk_feed(arch, entries):
    """ARCH/packages.adb: the index apk reads from a feed, signed with the key of
    $APK_SIGN_KEY (an ECDSA P-256 PEM), else dist/keys/edgeftpd-apk.key, made once and kept
    (routers trust its public half, openwrt-apk/edgeftpd-apk.pem, in /etc/apk/keys/)."""
    path = os.environ.get("APK_SIGN_KEY") or os.path.join(DIST, "keys", "edgeftpd-apk.key")
    if not os.path.exists(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        apk.Key.make(path)
    key = apk.Key(path)
    with open(os.path.join(OUT, "openwrt-apk", "edgeftpd-apk.pem"), "wb") as f:
        f.write(key.public_pem)
    index = os.path.join(OUT, "openwrt-apk", arch, "packages.adb")
    with open(index, "wb") as f:
        f.write(apk.index(entries, f"edgeftpd {version()} for OpenWrt 25 ({arch})", key))
    return index


LUCI_APP = os.path.join(ROOT, "cross/openwrt/luci-app-edgeftpd")
LUCI_DESCRIPTION = "LuCI support for edgeftpd: settings, accounts and status"
# After an install or upgrade: rpcd reads the new ACL and plugin, LuCI its new menu.
LUCI_POSTINST = (b"#!/bin/sh\n[ -n \"$IPKG_INSTROOT\" ] && exit 0\n"
                 b"rm -f /tmp/luci-indexcache /tmp/luci-indexcache.*\n"
                 b"/etc/init.d/rpcd reload 2>/dev/null\nexit 0\n")


def luci_files():
    """luci-app-edgeftpd's files: htdocs under /www, root under /."""
    out = []
    for top, dest in (("htdocs", "www"), ("root", "")):
        base = os.path.join(LUCI_APP, top)
        for d, _, names in os.walk(base):
            for n in names:
                src = os.path.join(d, n)
                rel = os.path.relpath(src, base)
                mode = 0o755 if os.access(src, os.X_OK) else 0o644
                out.append(((dest + "/" + rel).lstrip("/"), mode, read(src)))
    return sorted(out)


def luci_ipk(ver, when):
    """luci-app-edgeftpd for opkg: architecture all; it needs luci-base and edgeftpd (either
    flavour provides it)."""
    files = with_dirs(luci_files())
    control = (
        "Package: luci-app-edgeftpd\n"
        f"Version: {ver}-r1\n"
        "Depends: luci-base, edgeftpd\n"
        "Source: edgeftpd\n"
        "Section: luci\n"
        "Maintainer: edgeftpd developers\n"
        "Architecture: all\n"
        f"Installed-Size: {sum(len(d) for _, _, d in files if d is not None)}\n"
        f"Description: {LUCI_DESCRIPTION}\n"
    )
    outer = tar_gz([
        ("debian-binary", 0o644, b"2.0\n"),
        ("data.tar.gz", 0o644, tar_gz(files, when)),
        ("control.tar.gz", 0o644, tar_gz([("control", 0o644, control.encode()),
                                          ("postinst", 0o755, LUCI_POSTINST)], when)),
    ], when)
    path = os.path.join(OUT, "openwrt", f"luci-app-edgeftpd_{ver}-r1_all.ipk")
    with open(path, "wb") as f:
        f.write(outer)
    return path


def luci_apk(arch, ver, when, made):
    """luci-app-edgeftpd for apk (noarch), into ARCH's feed beside the server's packages."""
    files = luci_files()
    listed = sorted("/" + p for p, _, _ in files)
    files.append(("lib/apk/packages/luci-app-edgeftpd.list", 0o644,
                  "".join(p + "\n" for p in listed).encode()))
    info = {"name": "luci-app-edgeftpd", "version": f"{ver}-r1", "arch": "noarch",
            "origin": "edgeftpd", "maintainer": "edgeftpd developers",
            "description": LUCI_DESCRIPTION, "depends": ["luci-base", "edgeftpd"]}
    data = apk.package(info, with_dirs(files), {
        "post-install": LUCI_POSTINST,
        "post-upgrade": LUCI_POSTINST,
    }, when)
    path = os.path.join(OUT, "openwrt-apk", arch, f"luci-app-edgeftpd-{ver}-r1.apk")
    with open(path, "wb") as f:
        f.write(data)
    made.append((info, len(data)))
    return path


def deb(arch, binary, ver, when):
    stage = os.path.join(OUT, "debian", f"stage-{arch}")
    shutil.rmtree(stage, ignore_errors=True)
    src = os.path.join(ROOT, "cross/debian")

    def put(rel, data, mode):
        path = os.path.join(stage, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        os.chmod(path, mode)
        os.utime(path, (when, when))

    put("usr/sbin/edgeftpd", read(binary), 0o755)
    put("usr/lib/systemd/system/edgeftpd.service", read(os.path.join(src, "edgeftpd.service")),
        0o644)
    put("etc/edgeftpd/edgeftpd.conf", read(os.path.join(src, "edgeftpd.conf")), 0o644)
    put("usr/share/doc/edgeftpd/README.Debian", read(os.path.join(src, "README.Debian")), 0o644)
    size_kib = sum(os.path.getsize(os.path.join(d, f))
                   for d, _, fs in os.walk(stage) for f in fs) // 1024 + 1
    depends = "Depends: libc6\n" if arch == "amd64" else ""
    control = (
        "Package: edgeftpd\n"
        f"Version: {ver}-1\n"
        f"Architecture: {arch}\n"
        "Maintainer: edgeftpd developers <edgeftpd@localhost>\n"
        f"Installed-Size: {size_kib}\n"
        f"{depends}"
        "Pre-Depends: adduser | passwd\n"
        "Provides: ftp-server\n"
        "Conflicts: ftp-server\n"
        "Section: net\n"
        "Priority: optional\n"
        f"Description: {DESCRIPTION}\n"
    )
    put("DEBIAN/control", control.encode(), 0o644)
    put("DEBIAN/conffiles", b"/etc/edgeftpd/edgeftpd.conf\n", 0o644)
    for script in ["postinst", "prerm", "postrm"]:
        put("DEBIAN/" + script, read(os.path.join(src, script)), 0o755)
    path = os.path.join(OUT, "debian", f"edgeftpd_{ver}-1_{arch}.deb")
    env = dict(os.environ, SOURCE_DATE_EPOCH=str(when))
    subprocess.run(["dpkg-deb", "--root-owner-group", "-Zxz", "--build", stage, path],
                   check=True, env=env, stdout=subprocess.DEVNULL)
    shutil.rmtree(stage)
    return path


def main():
    global DIST, OUT
    if len(sys.argv) > 1:
        DIST = sys.argv[1]
        OUT = os.path.join(DIST, "packages")
    ver, when = version(), mtime()
    for sub in ["openwrt", "openwrt-apk", "debian"]:
        shutil.rmtree(os.path.join(OUT, sub), ignore_errors=True)
        os.makedirs(os.path.join(OUT, sub))
    made = []
    for triple, arches in OPENWRT_ARCHES.items():
        feeds = {arch: [] for arch in arches}
        for tls in (False, True):
            for arch in arches:
                made.append(ipk(triple, arch, tls, ver, when))
                made.append(apk_package(triple, arch, tls, ver, when, made=feeds[arch]))
        for arch, entries in feeds.items():
            made.append(luci_apk(arch, ver, when, entries))
            made.append(apk_feed(arch, entries))
    made.append(luci_ipk(ver, when))
    for arch, name in DEBIAN_ARCHES.items():
        binary = os.path.join(DIST, name) if name else os.path.join(ROOT, "target/release/edgeftpd")
        made.append(deb(arch, binary, ver, when))
    for path in made:
        print(f"{os.path.getsize(path) / 1024:8.1f} KiB  {os.path.relpath(path, ROOT)}")


if __name__ == "__main__":
    main()
