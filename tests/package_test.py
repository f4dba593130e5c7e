#!/usr/bin/env python3
"""`make package-test`: the packages `make package` made, checked as their installers see
them, and the Debian one installed on this machine.

OpenWrt (.ipk): the outer archive is what opkg reads (./debian-binary 2.0, ./data.tar.gz,
./control.tar.gz, nothing else); the control fields; the conffiles; every file root's with
its mode; the binary the one dist/ holds; the plain flavour's config without TLS options.
Each package is then unpacked as opkg does it (data.tar.gz into a root, the control files
into usr/lib/opkg/info/PACKAGE.*) and the installed binary run under qemu-user. (opkg
itself is not installed: no package registry this project reaches has it.)

OpenWrt 25 (.apk, apk-tools 3's ADB): read by cross/apk.py's reader (apk-tools is in no
registry this project reaches; `make openwrt-test` installs them with the real apk): the
schema, the package's fields, every directory and file with its mode, size and SHA-256
against its data block, the files as the .ipk's, the list and conffiles files OpenWrt's
build adds, and the scripts.

Debian (.deb): fields and contents by dpkg-deb; then `dpkg -i` of the amd64 package on
this machine, `systemd-analyze verify` of its unit, the server started from the unit's
ExecStart line as the unit's User with its AmbientCapabilities (binding port 921 as
non-root), a file fetched with curl, the unit's ExecReload line (SIGHUP) applied, and
`dpkg --purge`. Runs as root; talks to 127.0.0.1 only. Prints "N passed, N failed".
"""

import gzip
import hashlib
import io
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tarfile
import tempfile
import time
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DIST = os.path.join(ROOT, "dist")
PKGS = os.path.join(DIST, "packages")
sys.path.insert(0, os.path.join(ROOT, "cross"))
import package  # noqa: E402  (the arch tables and version)
import apk  # noqa: E402  (cross/apk.py: the .apk reader)

sys.path.insert(0, os.path.join(ROOT, "tests"))
from checks import check, finish, qemu_runners  # noqa: E402  (shared with procd_test.py)

QEMU = qemu_runners()


def members(data):
    """A gzipped tar's members: name -> (TarInfo, bytes or None)."""
    out = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as t:
        for m in t.getmembers():
            out[m.name] = (m, t.extractfile(m).read() if m.isfile() else None)
    return out


def fields(text):
    return dict(re.findall(r"^([A-Za-z-]+): ?(.*)$", text, re.M))


def ipk_checks():
    ver = package.version()
    count = 0
    for triple, arches in package.OPENWRT_ARCHES.items():
        for tls in (False, True):
            name = "edgeftpd-tls" if tls else "edgeftpd"
            binary = open(os.path.join(DIST, f"{name}-{triple}"), "rb").read()
            for arch in arches:
                path = os.path.join(PKGS, "openwrt", f"{name}_{ver}-r1_{arch}.ipk")
                tag = os.path.basename(path)
                if not os.path.exists(path):
                    check(f"{tag} exists", False, "run make package")
                    continue
                raw = open(path, "rb").read()
                outer = members(raw)
                check(f"{tag}: ./debian-binary, ./data.tar.gz, ./control.tar.gz",
                      sorted(n for n in outer if n not in (".", "./")) ==
                      ["./control.tar.gz", "./data.tar.gz", "./debian-binary"] and
                      outer["./debian-binary"][1] == b"2.0\n", str(sorted(outer)))
                ctl = members(outer["./control.tar.gz"][1])
                data = members(outer["./data.tar.gz"][1])
                f = fields(ctl["./control"][1].decode())
                check(f"{tag}: no empty control field (an empty Depends crashes opkg)",
                      all(v.strip() for v in f.values()), str(f))
                size = sum(len(b) for _, b in data.values() if b is not None)
                check(f"{tag}: control fields",
                      f.get("Package") == name and f.get("Version") == f"{ver}-r1" and
                      f.get("Architecture") == arch and f.get("Installed-Size") == str(size)
                      and f.get("Conflicts") == ("edgeftpd" if tls else "edgeftpd-tls") and
                      f.get("Provides") == "edgeftpd" and f.get("Section") == "net" and
                      f.get("Description", "").startswith("A small"), str(f))
                check(f"{tag}: conffiles /etc/config/edgeftpd, postinst and prerm",
                      ctl["./conffiles"][1] == b"/etc/config/edgeftpd\n" and
                      ctl["./postinst"][0].mode == 0o755 and ctl["./prerm"][0].mode == 0o755)
                files = {n: (m.mode, m.uid, m.gid) for n, (m, b) in data.items() if b is not None}
                check(f"{tag}: the files, root's, with their modes",
                      files == {"./usr/sbin/edgeftpd": (0o755, 0, 0),
                                "./etc/init.d/edgeftpd": (0o755, 0, 0),
                                "./etc/config/edgeftpd": (0o600, 0, 0),
                                "./lib/upgrade/keep.d/edgeftpd": (0o644, 0, 0),
                                "./etc/capabilities/edgeftpd.json": (0o644, 0, 0)}, str(files))
                caps = json.loads(data["./etc/capabilities/edgeftpd.json"][1])
                want = ["CAP_NET_BIND_SERVICE", "CAP_SETUID", "CAP_SETGID", "CAP_KILL"]
                check(f"{tag}: procd jail's capabilities: port 21, the monitor's setuid and "
                      "signals, nothing more", caps == {"bounding": want, "effective": want,
                                                        "permitted": want}, str(caps))
                check(f"{tag}: the binary of dist/{name}-{triple}",
                      data["./usr/sbin/edgeftpd"][1] == binary)
                config = data["./etc/config/edgeftpd"][1].decode()
                check(f"{tag}: /etc/config/edgeftpd " +
                      ("has the TLS options" if tls else "has no TLS option"),
                      ("option tls_cert" in config) == tls and "option enabled '0'" in config)
                count += 1
            # Unpacked as opkg does, once per flavour and target; the binary runs there.
            opkg_unpack_and_run(os.path.join(PKGS, "openwrt", f"{name}_{ver}-r1_{arches[0]}.ipk"),
                                name, triple, tls)
    check("every OpenWrt package made", count == 2 * sum(map(len, package.OPENWRT_ARCHES.values())))


def apk_checks():
    ver = package.version()
    count = 0
    scripts = os.path.join(ROOT, "cross/openwrt")
    postinst = open(os.path.join(scripts, "postinst"), "rb").read()
    prerm = open(os.path.join(scripts, "prerm"), "rb").read()
    for triple, arches in package.OPENWRT_ARCHES.items():
        for tls in (False, True):
            name = "edgeftpd-tls" if tls else "edgeftpd"
            binary = open(os.path.join(DIST, f"{name}-{triple}"), "rb").read()
            want = {p: (m, d) for p, m, d in package.openwrt_files(triple, tls)}
            for arch in arches:
                path = os.path.join(PKGS, "openwrt-apk", arch, f"{name}-{ver}-r1.apk")
                tag = os.path.relpath(path, PKGS)
                raw = open(path, "rb").read()
                try:
                    schema, adb, data = apk.read(raw)
                    pkg = apk.root(adb)
                except (ValueError, IndexError) as e:
                    check(f"{tag}: an ADB file", False, str(e))
                    continue
                check(f"{tag}: a deflated ADB file of schema pckg",
                      raw[:4] == b"ADBd" and schema == b"pckg")
                info = pkg[0] + [None] * 16
                provides = [d[0] + b"=" + d[1] for d in (info[15] or [])]
                check(f"{tag}: name, version, arch, provides, provider priority",
                      info[0] == name.encode() and info[1] == f"{ver}-r1".encode() and
                      info[4] == arch.encode() and len(info[2]) == 20 and
                      provides == ([f"edgeftpd={ver}-r1".encode()] if tls else []) and
                      info[13] == (None if tls else 100), str(info[:16]))
                files, ok, detail = {}, True, ""
                dirs = [(d + [None] * 3)[:3] for d in pkg[1]]
                names = [(d[0] or b"").decode() for d in dirs]
                ok &= names == sorted(names)
                blocks = {(i, j): b for i, j, b in data}
                for i, (dname, acl, entries) in enumerate(dirs, start=1):
                    ok &= acl[0] == 0o755 and acl[1] == b"root" and acl[2] == b"root"
                    for j, f in enumerate(entries or [], start=1):
                        fname, facl, size, _mtime, digest = (f + [None] * 5)[:5]
                        p = ((dname or b"").decode() + "/" + fname.decode()).lstrip("/")
                        body = blocks.get((i, j), b"")
                        if (len(body) != size or hashlib.sha256(body).digest() != digest
                                or facl[1:] != [b"root", b"root"]):
                            ok, detail = False, f"{detail} {p}"
                        files[p] = (facl[0], body)
                check(f"{tag}: paths sorted, each file's size and SHA-256 its data block's, "
                      "root's", ok and len(blocks) == len(files), detail)
                extra = f"lib/apk/packages/{name}"
                conf = want["etc/config/edgeftpd"][1]
                listed = "".join("/" + p + "\n" for p in sorted(want)).encode()
                check(f"{tag}: the .ipk's files with their modes, the binary of "
                      f"dist/{name}-{triple}; the list, conffiles and conffiles_static",
                      {p: v for p, v in files.items() if not p.startswith(extra)} == want and
                      files["usr/sbin/edgeftpd"][1] == binary and
                      files[extra + ".list"][1] == listed and
                      files[extra + ".conffiles"][1] == b"/etc/config/edgeftpd\n" and
                      files[extra + ".conffiles_static"][1] ==
                      f"/etc/config/edgeftpd {hashlib.sha256(conf).hexdigest()}\n".encode(),
                      str(sorted(files)))
                sc = (pkg[2] + [None] * 7)[:7]
                check(f"{tag}: post-install the postinst, post-upgrade it with "
                      "PKG_UPGRADE=1, pre-deinstall the prerm",
                      sc[2] == postinst and sc[3] == prerm and
                      sc[6] == b"#!/bin/sh\nexport PKG_UPGRADE=1\n" +
                      postinst.split(b"\n", 1)[1], str(sc))
                count += 1
    check("every OpenWrt 25 package made",
          count == 2 * sum(map(len, package.OPENWRT_ARCHES.values())))
    # Each architecture's feed index: its entries name the packages beside it by their
    # identity and size; its signature verifies with the public key beside the feeds.
    pem = os.path.join(PKGS, "openwrt-apk", "edgeftpd-apk.pem")
    for arches in package.OPENWRT_ARCHES.values():
        for arch in arches:
            feed = os.path.join(PKGS, "openwrt-apk", arch)
            raw = open(os.path.join(feed, "packages.adb"), "rb").read()
            z = zlib.decompressobj(-15).decompress(raw[4:])
            schema, adb, _ = apk.read(raw)
            entries = apk.root(adb)[1]
            want = {}
            for f in sorted(os.listdir(feed)):
                if f.endswith(".apk"):
                    data = open(os.path.join(feed, f), "rb").read()
                    want[f] = (hashlib.sha256(apk.read(data)[1]).digest(), len(data))
            got = {f"{e[0].decode()}-{e[1].decode()}.apk": (e[2], e[12]) for e in entries}
            # The signature block follows the ADB block: version 0, SHA-512, key id, sig.
            adb_len = struct.unpack_from("<I", z, 8)[0] & 0x3FFFFFFF
            sig_at = 8 + adb_len + (-adb_len % 8)
            sig_len = (struct.unpack_from("<I", z, sig_at)[0] & 0x3FFFFFFF) - 4
            sig = z[sig_at + 4:sig_at + 4 + sig_len]
            msg = b"indx" + sig[:18] + hashlib.sha512(adb).digest()
            with tempfile.NamedTemporaryFile() as m, tempfile.NamedTemporaryFile() as sg:
                m.write(msg)
                m.flush()
                sg.write(sig[18:])
                sg.flush()
                ok = subprocess.run(["openssl", "dgst", "-sha512", "-verify", pem,
                                     "-signature", sg.name, m.name],
                                    capture_output=True).returncode == 0
            check(f"openwrt-apk/{arch}/packages.adb: an index of its packages by identity "
                  "and size, signed (ECDSA, SHA-512) by openwrt-apk/edgeftpd-apk.pem",
                  raw[:4] == b"ADBd" and schema == b"indx" and got == want and
                  sig[:2] == b"\x00\x04" and ok, f"{got} {want} {ok}")


def luci_checks():
    """luci-app-edgeftpd, for opkg and for apk: the app's files, its dependencies."""
    ver = package.version()
    want = {p: (m, d) for p, m, d in package.luci_files()}
    outer = members(open(os.path.join(PKGS, "openwrt", f"luci-app-edgeftpd_{ver}-r1_all.ipk"),
                         "rb").read())
    ctl = members(outer["./control.tar.gz"][1])
    data = members(outer["./data.tar.gz"][1])
    f = fields(ctl["./control"][1].decode())
    files = {n[2:]: (m.mode, b) for n, (m, b) in data.items() if b is not None}
    check("luci-app-edgeftpd .ipk: architecture all, needs luci-base and edgeftpd; the app's "
          "files (views, menu, ACL, the rpcd plugin executable); its postinst reloads rpcd",
          f.get("Architecture") == "all" and f.get("Depends") == "luci-base, edgeftpd" and
          files == want and want["usr/libexec/rpcd/luci.edgeftpd"][0] == 0o755 and
          b"/etc/init.d/rpcd reload" in ctl["./postinst"][1], f"{f} {sorted(files)}")
    for arches in package.OPENWRT_ARCHES.values():
        for arch in arches:
            raw = open(os.path.join(PKGS, "openwrt-apk", arch,
                                    f"luci-app-edgeftpd-{ver}-r1.apk"), "rb").read()
            _, adb, blocks = apk.read(raw)
            pkg = apk.root(adb)
            info = pkg[0] + [None] * 16
            check(f"openwrt-apk/{arch}/luci-app-edgeftpd: noarch, needs luci-base and edgeftpd, "
                  "the app's files", info[4] == b"noarch" and
                  [d[0] for d in info[14]] == [b"luci-base", b"edgeftpd"] and
                  sorted(b for _, _, b in blocks if b not in
                         [d for _, d in want.values()]) != [] and
                  all(any(b == d for _, _, b in blocks) for _, d in want.values()),
                  str(info[:16]))


def opkg_unpack_and_run(path, name, triple, tls):
    """What opkg install does with the files (not the scripts, which need a router)."""
    tag = os.path.basename(path)
    root = tempfile.mkdtemp(prefix="edgeftpd-opkg-")
    try:
        outer = members(open(path, "rb").read())
        info = os.path.join(root, "usr/lib/opkg/info")
        os.makedirs(info)
        listed = []
        with tarfile.open(fileobj=io.BytesIO(outer["./data.tar.gz"][1]), mode="r:gz") as t:
            for m in t.getmembers():
                t.extract(m, root, filter="tar")
                if m.isfile():
                    listed.append(m.name[1:])
        with open(os.path.join(info, name + ".list"), "w") as f:
            f.write("".join(p + "\n" for p in listed))
        for n, (m, b) in members(outer["./control.tar.gz"][1]).items():
            if b is not None:
                dest = os.path.join(info, name + "." + n[2:])
                with open(dest, "wb") as f:
                    f.write(b)
                os.chmod(dest, m.mode)
        out = subprocess.run([QEMU[triple], os.path.join(root, "usr/sbin/edgeftpd"), "--version"],
                             capture_output=True, text=True)
        flavour = "with FTPS" if tls else "plain"
        check(f"{tag}: unpacked as opkg does, usr/sbin/edgeftpd --version runs ({flavour})",
              out.returncode == 0 and out.stdout.startswith("edgeftpd ") and
              ("with FTPS" in out.stdout) == tls and "linux-musl" in out.stdout,
              out.stdout + out.stderr)
    finally:
        shutil.rmtree(root)


def deb_checks():
    ver = package.version()
    for arch in package.DEBIAN_ARCHES:
        path = os.path.join(PKGS, "debian", f"edgeftpd_{ver}-1_{arch}.deb")
        tag = os.path.basename(path)
        info = subprocess.run(["dpkg-deb", "--field", path], capture_output=True, text=True)
        f = fields(info.stdout)
        check(f"{tag}: control fields", f.get("Package") == "edgeftpd" and
              f.get("Architecture") == arch and f.get("Version") == f"{ver}-1" and
              f.get("Provides") == "ftp-server", info.stdout + info.stderr)
        listing = subprocess.run(["dpkg-deb", "--contents", path], capture_output=True,
                                 text=True).stdout
        files = sorted(l.split()[-1] for l in listing.splitlines() if l.startswith("-"))
        owners = {l.split()[1] for l in listing.splitlines()}
        check(f"{tag}: the binary, the unit, the conffile, root's", files == [
            "./etc/edgeftpd/edgeftpd.conf", "./usr/lib/systemd/system/edgeftpd.service",
            "./usr/sbin/edgeftpd", "./usr/share/doc/edgeftpd/README.Debian"] and
            owners == {"root/root"}, listing)


def unit_line(unit, key):
    for line in unit.splitlines():
        if line.startswith(key + "="):
            return line[len(key) + 1:]
    return None


def deb_install():
    ver = package.version()
    path = os.path.join(PKGS, "debian", f"edgeftpd_{ver}-1_amd64.deb")
    subprocess.run(["dpkg", "--purge", "edgeftpd"], capture_output=True)
    srv_ftp_existed = os.path.exists("/srv/ftp")
    r = subprocess.run(["dpkg", "-i", path], capture_output=True, text=True)
    check("dpkg -i edgeftpd_amd64.deb", r.returncode == 0, r.stdout + r.stderr)
    user = subprocess.run(["getent", "passwd", "edgeftpd"], capture_output=True, text=True)
    check("postinst adds the system user edgeftpd and /srv/ftp",
          r.returncode == 0 and user.stdout.startswith("edgeftpd:") and
          os.path.isdir("/srv/ftp"), user.stdout)
    unit_path = "/usr/lib/systemd/system/edgeftpd.service"
    v = subprocess.run(["systemd-analyze", "verify", unit_path], capture_output=True, text=True)
    check("systemd-analyze verify edgeftpd.service", v.returncode == 0, v.stdout + v.stderr)
    unit = open(unit_path).read()
    start = unit_line(unit, "ExecStart").split()
    reload = unit_line(unit, "ExecReload")
    caps = unit_line(unit, "AmbientCapabilities")
    check("the unit: non-root User, one capability, NoNewPrivileges, ProtectSystem=strict",
          unit_line(unit, "User") == "edgeftpd" and caps == "CAP_NET_BIND_SERVICE" and
          unit_line(unit, "NoNewPrivileges") == "yes" and
          unit_line(unit, "ProtectSystem") == "strict", unit)
    probe = "edgeftpd-package-test.txt"
    created = not os.path.exists(f"/srv/ftp/{probe}")
    with open(f"/srv/ftp/{probe}", "w") as f:
        f.write("from the deb\n")
    # The ExecStart line, as the unit's user with its capability (port 921 needs it).
    cap = caps.lower().removeprefix("cap_")
    argv = ["setpriv", "--reuid", "edgeftpd", "--regid", "edgeftpd", "--init-groups",
            "--inh-caps", "+" + cap, "--ambient-caps", "+" + cap, "--no-new-privs"] + start + \
        ["--listen", "127.0.0.1:921"]
    server = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        got = None
        for _ in range(100):
            c = subprocess.run(["curl", "-s", "--max-time", "5", f"ftp://127.0.0.1:921/{probe}"],
                               capture_output=True, text=True)
            if c.returncode == 0:
                got = c.stdout
                break
            time.sleep(0.1)
        check("the unit's ExecStart as edgeftpd binds port 921 and serves /srv/ftp",
              got == "from the deb\n", str(got))
        uid = open(f"/proc/{server.pid}/status").read()
        check("it runs as edgeftpd, not root", re.search(r"^Uid:\s+0\s", uid, re.M) is None, uid)
        os.kill(server.pid, 0)
        subprocess.run(["sh", "-c", reload.replace("$MAINPID", str(server.pid))], check=True)
        time.sleep(0.5)
    finally:
        server.send_signal(signal.SIGTERM)
        _, err = server.communicate(timeout=20)
        if created:
            os.remove(f"/srv/ftp/{probe}")
    check("the unit's ExecReload line (SIGHUP) reloads the configuration",
          "SIGHUP: reloaded the configuration" in err, err)
    r = subprocess.run(["dpkg", "--purge", "edgeftpd"], capture_output=True, text=True)
    user = subprocess.run(["getent", "passwd", "edgeftpd"], capture_output=True, text=True)
    check("dpkg --purge removes the files and the user, keeps /srv/ftp",
          r.returncode == 0 and not os.path.exists("/usr/sbin/edgeftpd") and
          not os.path.exists("/etc/edgeftpd/edgeftpd.conf") and user.returncode != 0 and
          os.path.isdir("/srv/ftp"), r.stdout + r.stderr)
    if not srv_ftp_existed:
        shutil.rmtree("/srv/ftp", ignore_errors=True)


def main():
    if os.geteuid() != 0:
        sys.exit("package_test: runs as root (dpkg -i)")
    ipk_checks()
    apk_checks()
    luci_checks()
    deb_checks()
    deb_install()
    finish()


if __name__ == "__main__":
    main()
