#!/usr/bin/env python3
"""The OpenWrt init script (cross/openwrt/edgeftpd.init) run by OpenWrt's own scripts.

An admin's day on a router, in a chroot that holds OpenWrt's real /etc/rc.common,
/lib/functions.sh, /lib/functions/procd.sh, /lib/functions/service.sh and
/lib/config/uci.sh, and host builds of OpenWrt's `uci` and libubox's `jshn` (with jshn.sh),
all under busybox's shell and applets as on a router. Only `ubus` is a stand-in
(tests/openwrt/ubus): it records the JSON that procd would receive, and this script plays
procd's part with it: it starts the instance's command line, sends the signals, stops it.

    OPENWRT_SYSROOT=DIR python3 tests/openwrt/procd_test.py [--ipk PACKAGE | BINARY]

DIR is laid out as a router's root for those files (etc/rc.common, lib/functions.sh, ...,
sbin/uci, usr/bin/jshn, usr/share/libubox/jshn.sh, bin/opkg if any, their libraries in
usr/lib) and lists
their origins and revisions in DIR/SOURCES. This repository neither holds OpenWrt's code
nor a recipe that fetches or builds it (its machines reach only package registries), so
`make test` and CI cannot run this; `make openwrt-test OPENWRT_SYSROOT=DIR` does.
With --ipk, the package (`make package`; an armv7, aarch64, mipsel or mips one) is installed
by OpenWrt's own opkg when DIR has bin/opkg (a host build of opkg-lede): `opkg install`,
which runs its postinst, `opkg install --force-reinstall` keeping the admin's conffile, and
`opkg remove`, which runs its prerm. Without bin/opkg, as opkg does it: data.tar.gz
unpacked into the root, the control files into /usr/lib/opkg/info, then its postinst run
(and its prerm at the end). Its binary runs under
qemu-user (copied into the root), and with the -tls package the first start makes the FTPS
certificate with openssl (copied into the root: px5g is not in Debian). Else BINARY, the host
build (default target/debug/edgeftpd), is put in place of the package's with the repository's
init script and config. Runs as root (chroot, mount namespaces); talks to 127.0.0.1 only.
Prints "N passed, N failed".
"""

import ftplib
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SYSROOT = os.environ.get("OPENWRT_SYSROOT", "")
IPK = os.path.abspath(sys.argv[2]) if sys.argv[1:2] == ["--ipk"] else None
BINARY = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 and not IPK else
                         os.path.join(REPO, "target/debug/edgeftpd"))
CONF = "/var/run/edgeftpd/edgeftpd.conf"
USERS = "/var/run/edgeftpd/users"

sys.path.insert(0, os.path.join(REPO, "tests"))
from checks import check, finish, qemu_for_openwrt_arch  # noqa: E402  (shared with package_test.py)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def libraries(path, extra_dirs):
    """The shared libraries an ELF file needs, as ldd finds them."""
    env = dict(os.environ, LD_LIBRARY_PATH=":".join(extra_dirs))
    out = subprocess.run(["ldd", path], capture_output=True, text=True, env=env).stdout
    libs = []
    for line in out.splitlines():
        parts = line.split()
        if "=>" in parts and len(parts) > parts.index("=>") + 1:
            target = parts[parts.index("=>") + 1]
            if target.startswith("/"):
                libs.append(target)
        elif parts and parts[0].startswith("/"):
            libs.append(parts[0])
    return libs


class Router:
    """A router's root in a temporary directory, with the package's files installed."""

    def __init__(self):
        self.root = tempfile.mkdtemp(prefix="edgeftpd-openwrt-")
        r = self.root
        shutil.copytree(SYSROOT, r, dirs_exist_ok=True, symlinks=True)
        for d in ["bin", "sbin", "usr/bin", "usr/sbin", "etc/config", "etc/rc.d",
                  "etc/init.d", "tmp", "proc", "dev", "mnt", "srv", "home"]:
            os.makedirs(os.path.join(r, d), exist_ok=True)
        os.symlink("tmp", os.path.join(r, "var"))
        os.makedirs(os.path.join(r, "tmp/lock"), exist_ok=True)
        with open(os.path.join(r, "etc/passwd"), "w") as f:
            f.write("root:x:0:0:root:/root:/bin/ash\nftp:*:55:55:ftp:/home/ftp:/bin/false\n")
        with open(os.path.join(r, "etc/group"), "w") as f:
            f.write("root:x:0:\nftp:x:55:\n")
        # busybox, as the router's shell and applets.
        bb = shutil.which("busybox")
        shutil.copy(bb, os.path.join(r, "bin/busybox"))
        applets = subprocess.run([bb, "--list-full"], capture_output=True, text=True).stdout
        for a in applets.split():
            link = os.path.join(r, a)
            os.makedirs(os.path.dirname(link), exist_ok=True)
            if not os.path.lexists(link):
                os.symlink("/bin/busybox", link)
        shutil.copy(os.path.join(HERE, "ubus"), os.path.join(r, "bin/ubus"))
        os.chmod(os.path.join(r, "bin/ubus"), 0o755)
        self.run = ""  # what runs the server's binary here: "" or qemu-user
        self.package = None
        # flock, which OpenWrt's busybox has and Debian's lacks (procd.sh locks with it).
        shutil.copy(shutil.which("flock"), os.path.join(r, "usr/bin/flock"))
        progs = ["bin/busybox", "sbin/uci", "usr/bin/jshn", "usr/bin/flock"]
        self.opkg = os.path.exists(os.path.join(r, "bin/opkg"))
        if IPK:
            outer = tar_members(open(IPK, "rb").read())
            ctl = tar_members(outer["./control.tar.gz"])
            fields = dict(l.split(": ", 1) for l in ctl["./control"].decode().splitlines()
                          if ": " in l)
            self.package = fields["Package"]
            self.arch = fields["Architecture"]
        if IPK and self.opkg:
            # opkg itself installs it (admin_day): its configuration, and the package.
            shutil.copy(IPK, os.path.join(r, "tmp", os.path.basename(IPK)))
            with open(os.path.join(r, "etc/opkg.conf"), "w") as f:
                f.write("dest root /\ndest ram /tmp\nlists_dir ext /var/opkg-lists\n"
                        "option overlay_root /overlay\narch all 1\narch noarch 1\n"
                        f"arch {self.arch} 10\n")
            progs.append("bin/opkg")
        elif IPK:
            # The .ipk unpacked as opkg does (its scripts run later, in the router).
            info = os.path.join(r, "usr/lib/opkg/info")
            os.makedirs(info)
            import io
            import tarfile
            listed = []
            with tarfile.open(fileobj=io.BytesIO(outer["./data.tar.gz"]), mode="r:gz") as t:
                for m in t.getmembers():
                    t.extract(m, r, filter="tar")
                    if m.isfile():
                        listed.append(m.name[1:])
            with open(os.path.join(info, self.package + ".list"), "w") as f:
                f.write("".join(p + "\n" for p in listed))
            for name, data in ctl.items():
                if data is None:
                    continue
                dest = os.path.join(info, self.package + "." + name[2:])
                with open(dest, "wb") as f:
                    f.write(data)
                os.chmod(dest, 0o755 if name[2:] in ("postinst", "prerm") else 0o644)
        if IPK:
            qemu = shutil.which(qemu_for_openwrt_arch(self.arch))
            shutil.copy(qemu, os.path.join(r, "usr/bin", os.path.basename(qemu)))
            self.run = os.path.basename(qemu) + " "
            openssl = shutil.which("openssl")
            shutil.copy(openssl, os.path.join(r, "usr/bin/openssl"))
            os.makedirs(os.path.join(r, "usr/lib/ssl"), exist_ok=True)
            shutil.copy("/usr/lib/ssl/openssl.cnf", os.path.join(r, "usr/lib/ssl/openssl.cnf"))
            progs.append("usr/bin/openssl")
        else:
            shutil.copy(os.path.join(REPO, "cross/openwrt/edgeftpd.init"),
                        os.path.join(r, "etc/init.d/edgeftpd"))
            os.chmod(os.path.join(r, "etc/init.d/edgeftpd"), 0o755)
            shutil.copy(os.path.join(REPO, "cross/openwrt/edgeftpd.config"),
                        os.path.join(r, "etc/config/edgeftpd"))
            shutil.copy(BINARY, os.path.join(r, "usr/sbin/edgeftpd"))
            progs.append("usr/sbin/edgeftpd")
        # The host's libraries of every program here (the router's would be musl's).
        sysroot_libs = [os.path.join(r, "usr/lib")]
        for prog in progs:
            for lib in libraries(os.path.join(r, prog), sysroot_libs):
                if lib.startswith(r):
                    continue
                dest = os.path.join(r, lib.lstrip("/"))
                os.makedirs(os.path.dirname(dest), exist_ok=True)
                if not os.path.exists(dest):
                    shutil.copy(lib, dest)
        self.server = None
        self.mounts = []

    def path(self, p):
        return os.path.join(self.root, p.lstrip("/"))

    def wrap(self, command):
        """argv that runs `command` (a shell line) in the router, in a mount namespace of
        its own with /dev, /proc and the disks of self.mounts."""
        r = self.root
        setup = [f"mount --bind /dev {r}/dev", f"mount -t proc proc {r}/proc"]
        setup += [f"mount -t tmpfs -o size=4m usb {r}{m}" for m in self.mounts]
        inner = "exec chroot " + r + " /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin " \
            "/bin/sh -c " + shell_quote(command)
        return ["unshare", "--mount", "--propagation", "private", "/bin/sh", "-c",
                " && ".join(setup + [inner])]

    def sh(self, command):
        p = subprocess.run(self.wrap(command), capture_output=True, text=True, timeout=60)
        return p.returncode, p.stdout, p.stderr

    def ubus_calls(self):
        try:
            with open(self.path("/tmp/ubus.log")) as f:
                lines = f.read().splitlines()
        except FileNotFoundError:
            return []
        calls = []
        for line in lines:
            head, _, body = line.partition("\t")
            calls.append((head, json.loads(body) if body else None))
        return calls

    def clear_ubus(self):
        try:
            os.remove(self.path("/tmp/ubus.log"))
        except FileNotFoundError:
            pass

    def last(self, method):
        calls = [b for h, b in self.ubus_calls() if h == "service " + method]
        return calls[-1] if calls else None

    # procd's part.
    def procd_start(self, message):
        """Starts the instance the `set` message describes, as procd would."""
        self.procd_stop()
        inst = (message or {}).get("instances", {}).get("instance1")
        if not inst:
            return None
        argv = inst["command"]
        cmd = self.run + " ".join(shell_quote(a) for a in argv)
        self.server = subprocess.Popen(self.wrap("exec " + cmd), stdout=subprocess.PIPE,
                                       stderr=subprocess.STDOUT, text=True)
        return inst

    def procd_signal(self, message):
        if self.server and message and message.get("signal"):
            os.kill(self.server.pid, message["signal"])

    def procd_stop(self):
        if self.server:
            self.server.terminate()
            try:
                self.server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.server.kill()
                self.server.wait()
            self.server = None

    def close(self):
        self.procd_stop()
        shutil.rmtree(self.root, ignore_errors=True)


def tar_members(data):
    """A gzipped tar's files: name -> bytes (None for directories)."""
    import io
    import tarfile
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as t:
        return {m.name: (t.extractfile(m).read() if m.isfile() else None)
                for m in t.getmembers()}


def shell_quote(s):
    return "'" + s.replace("'", "'\\''") + "'"


def ftp(port, user="anonymous", password="guest@example.com", tries=100):
    """A logged-in ftplib client, once the server answers."""
    last = None
    for _ in range(tries):
        try:
            c = ftplib.FTP()
            c.connect("127.0.0.1", port, timeout=10)
            c.login(user, password)
            return c
        except (OSError, ftplib.Error) as e:
            last = e
            if isinstance(e, ftplib.error_perm):
                raise
            time.sleep(0.1)
    raise last


def retr(c, name):
    chunks = []
    c.retrbinary("RETR " + name, chunks.append)
    return b"".join(chunks)


def main():
    if os.geteuid() != 0:
        sys.exit("procd_test: runs as root (chroot and mount namespaces)")
    need = ["etc/rc.common", "lib/functions.sh", "lib/functions/procd.sh",
            "lib/functions/service.sh", "lib/config/uci.sh", "sbin/uci", "usr/bin/jshn",
            "usr/share/libubox/jshn.sh"]
    missing = [n for n in need if not os.path.exists(os.path.join(SYSROOT, n))]
    if not SYSROOT or missing:
        sys.exit(f"procd_test: OPENWRT_SYSROOT={SYSROOT!r} lacks {missing or need}")
    print("OpenWrt pieces (" + SYSROOT + "/SOURCES):")
    with open(os.path.join(SYSROOT, "SOURCES")) as f:
        print("  " + f.read().strip().replace("\n", "\n  "))
    r = Router()
    try:
        admin_day(r)
    finally:
        r.close()
    finish()


def admin_day(r):
    port, port2 = free_port(), free_port()
    with open(r.path("/srv/hello.txt"), "w") as f:
        f.write("hello\n")
    os.makedirs(r.path("/home/bob/pub"))
    with open(r.path("/home/bob/pub/notes.txt"), "w") as f:
        f.write("notes\n")
    # The package as installed: the shipped config keeps the server off.
    if r.package and r.opkg:
        code, out, err = r.sh(f"opkg install /tmp/{os.path.basename(IPK)} && ls /etc/rc.d")
        check(f"opkg install {os.path.basename(IPK)}: its postinst links S60edgeftpd and "
              "K40edgeftpd and says how to serve", code == 0 and
              out.split()[-2:] == ["K40edgeftpd", "S60edgeftpd"] and
              "uci set edgeftpd.main.enabled=1" in out, out + err)
    elif r.package:
        code, out, err = r.sh(f"/usr/lib/opkg/info/{r.package}.postinst && ls /etc/rc.d")
        check("postinst links S60edgeftpd and K40edgeftpd and says how to serve", code == 0
              and out.split()[-2:] == ["K40edgeftpd", "S60edgeftpd"] and
              "uci set edgeftpd.main.enabled=1" in out, out + err)
    else:
        code, out, err = r.sh("/etc/init.d/edgeftpd enable && ls /etc/rc.d")
        check("enable links S60edgeftpd and K40edgeftpd", code == 0 and
              out.split() == ["K40edgeftpd", "S60edgeftpd"], out + err)
        code, out, err = r.sh("/etc/init.d/edgeftpd start")
    msg = r.last("set")
    check("the shipped config (enabled 0) registers the service with no instance",
          code == 0 and msg is not None and msg["instances"] == {}, f"{msg} {err}")
    tls = r.package == "edgeftpd-tls"
    code, out, err = r.sh(f"echo 'bob secret' | {r.run}/usr/sbin/edgeftpd --hash-password")
    bob_hash = out.strip()
    check("--hash-password on the router makes a $6$ hash", code == 0 and
          bob_hash.startswith("$6$"), err)


    # An admin's uci commands.
    admin = f"""
uci set edgeftpd.main.enabled=1
uci set edgeftpd.main.root=/srv
uci set edgeftpd.main.anonymous=1
uci delete edgeftpd.main.listen
uci add_list edgeftpd.main.listen=127.0.0.1:{port}
uci set edgeftpd.main.pasv_ports=46000-46099
{"" if tls else "uci delete edgeftpd.main.tls_cert; uci delete edgeftpd.main.tls_key"}
uci add_list edgeftpd.main.allow=10.0.0.0/8
uci add_list edgeftpd.main.allow=127.0.0.0/8
uci set edgeftpd.main.max_clients=20
uci add edgeftpd user >/dev/null
uci set edgeftpd.@user[-1].name=bob
uci set 'edgeftpd.@user[-1].password={bob_hash}'
uci set edgeftpd.@user[-1].home=/home/bob
uci set edgeftpd.@user[-1].perm=rw
uci add_list edgeftpd.@user[-1].folder=/pub=ro
uci set edgeftpd.@user[-1].quota=1M
uci add edgeftpd user >/dev/null
uci set edgeftpd.@user[-1].name=eve
uci set edgeftpd.@user[-1].password=hunter2
uci set edgeftpd.@user[-1].home=/home/bob
uci commit edgeftpd
"""
    code, out, err = r.sh(admin)
    check("uci set and commit", code == 0, err)
    r.clear_ubus()
    code, out, err = r.sh("/etc/init.d/edgeftpd start")
    msg = r.last("set")
    inst = (msg or {}).get("instances", {}).get("instance1", {})
    check("start: procd gets one instance, edgeftpd --config " + CONF,
          inst.get("command") == ["/usr/sbin/edgeftpd", "--config", CONF], f"{msg}\n{err}")
    check("respawn 3600 5 5, stdout and stderr to logd, term_timeout 10",
          inst.get("respawn") == ["3600", "5", "5"] and inst.get("stdout") is True and
          inst.get("stderr") is True and inst.get("term_timeout") == 10, str(inst))
    triggers = (msg or {}).get("triggers", [])
    check("a reload trigger on config.change of edgeftpd",
          ["config.change", ["if", ["eq", "package", "edgeftpd"],
                             ["run_script", "/etc/init.d/edgeftpd", "reload"]], 1000]
          in triggers, json.dumps(triggers))
    data = inst.get("data", {})
    check("mDNS: _ftp._tcp on the listen port",
          data.get("mdns", {}).get(f"ftp_{port}") ==
          {"service": "_ftp._tcp.local", "port": port, "txt": ["path=/"]}, json.dumps(data))
    check("firewall: no WAN rule unless wan_access is 1", data.get("firewall") == [],
          json.dumps(data))
    check("plain-text password refused with a clear line",
          "user eve: option password is not a $6$ hash; plain text is refused" in err, err)
    with open(r.path(CONF)) as f:
        conf = f.read()
    tls_lines = ("tls-cert = /etc/edgeftpd/ftps.crt\ntls-key = /etc/edgeftpd/ftps.key\n"
                 if tls else "")
    want = (f"root = /srv\nanonymous = 1\npasv-ports = 46000-46099\n{tls_lines}"
            f"listen = 127.0.0.1:{port}\nallow = 10.0.0.0/8\nallow = 127.0.0.0/8\n"
            f"max-clients = 20\nusers = {USERS}\n")
    check("the config file: one line per option in UCI's order, named as the long flags",
          conf == want, repr(conf))
    with open(r.path(USERS)) as f:
        users = f.read()
    st = os.stat(r.path(USERS))
    check("the users file: bob's line, eve left out; mode 0600, root's",
          users == f"bob:{bob_hash}:/home/bob:rw,/pub=ro,quota=1M\n" and
          stat.S_IMODE(st.st_mode) == 0o600 and st.st_uid == 0, f"{users!r} {oct(st.st_mode)}")

    if tls:
        check("the first start makes a self-signed FTPS certificate, its key 0600",
              "made a self-signed FTPS certificate" in err and
              stat.S_IMODE(os.stat(r.path("/etc/edgeftpd/ftps.key")).st_mode) == 0o600, err)
    # procd starts it.
    r.procd_start(msg)
    c = ftp(port)
    check("anonymous gets the root", retr(c, "hello.txt") == b"hello\n")
    c.quit()
    if tls:
        got = subprocess.run(["curl", "-s", "--ssl-reqd", "-k", "--max-time", "20",
                              f"ftp://127.0.0.1:{port}/hello.txt"], capture_output=True)
        check("FTPS with that certificate (curl --ssl-reqd)", got.stdout == b"hello\n",
              str(got))
    c = ftp(port, "bob", "bob secret")
    check("bob logs in with his password; /pub is read-only for him",
          retr(c, "pub/notes.txt") == b"notes\n" and
          c.storbinary("STOR up.txt", __import__("io").BytesIO(b"up")).startswith("226"))
    try:
        c.storbinary("STOR pub/x.txt", __import__("io").BytesIO(b"x"))
        check("bob cannot write in /pub", False)
    except ftplib.error_perm as e:
        check("bob cannot write in /pub", str(e).startswith("550"), str(e))
    c.quit()

    # reload: uci, commit, reload; procd gets a SIGHUP for the instance.
    r.clear_ubus()
    code, out, err = r.sh("uci set edgeftpd.main.anonymous=0 && uci commit edgeftpd && "
                          "/etc/init.d/edgeftpd reload")
    sig = r.last("signal")
    check("reload: procd is asked to send SIGHUP to edgeftpd",
          sig == {"name": "edgeftpd", "signal": 1}, f"{r.ubus_calls()} {err}")
    check("reload: the same command line, so procd keeps the process",
          r.last("set")["instances"]["instance1"]["command"] == inst["command"])
    r.procd_signal(sig)
    time.sleep(0.5)
    try:
        ftp(port, tries=1)
        check("after the reload anonymous is refused", False)
    except ftplib.error_perm as e:
        check("after the reload anonymous is refused", str(e).startswith("530"), str(e))
    c = ftp(port, "bob", "bob secret")
    check("bob still gets in", retr(c, "up.txt") == b"up")
    c.quit()

    # A new listen address: the same SIGHUP; the server starts again in place.
    pid = r.server.pid
    r.clear_ubus()
    code, out, err = r.sh(f"uci delete edgeftpd.main.listen && "
                          f"uci add_list edgeftpd.main.listen=127.0.0.1:{port2} && "
                          "uci commit edgeftpd && /etc/init.d/edgeftpd reload")
    r.procd_signal(r.last("signal"))
    c = ftp(port2, "bob", "bob secret")
    check("a new listen port applies on reload, same process",
          retr(c, "up.txt") == b"up" and r.server.poll() is None and r.server.pid == pid)
    c.quit()
    check("mDNS follows the new port",
          f"ftp_{port2}" in r.last("set")["instances"]["instance1"]["data"]["mdns"])

    # The firewall, when the admin asks for it.
    code, out, err = r.sh("uci set edgeftpd.main.wan_access=1 && uci commit edgeftpd && "
                          "/etc/init.d/edgeftpd reload")
    fw = r.last("set")["instances"]["instance1"]["data"]["firewall"]
    rule = lambda p: {"type": "rule", "name": f"Allow-edgeftpd-{p}", "src": "wan",
                      "proto": "tcp", "dest_port": p, "target": "ACCEPT"}
    check("wan_access 1: fw4 rules for the control port and the passive range",
          fw == [rule(str(port2)), rule("46000-46099")], json.dumps(fw))
    events = [b for h, b in r.ubus_calls() if h == "service event"]
    check("the firewall is told to reload its service rules",
          {"type": "config.change", "data": {"package": "firewall"}} in events, str(events))

    # A wrong option: the server's own check names it, and nothing is started.
    r.clear_ubus()
    code, out, err = r.sh("uci set edgeftpd.main.bogus_option=1 && uci commit edgeftpd && "
                          "/etc/init.d/edgeftpd start")
    check("a wrong option: not started, the server's check names it",
          r.last("set")["instances"] == {} and
          "not started: /var/run/edgeftpd/edgeftpd.conf:" in err and
          "unknown setting bogus-option" in err, err)
    r.sh("uci delete edgeftpd.main.bogus_option && uci commit edgeftpd && "
         "/etc/init.d/edgeftpd start")

    # stop
    r.clear_ubus()
    code, out, err = r.sh("/etc/init.d/edgeftpd stop")
    check("stop: procd is asked to delete the service",
          r.last("delete") == {"name": "edgeftpd"}, str(r.ubus_calls()))
    r.procd_stop()

    # A USB disk from /etc/config/fstab that is not mounted yet: no start, a mount trigger.
    os.makedirs(r.path("/mnt/usb"))
    code, out, err = r.sh(
        "uci set fstab.usb=mount 2>/dev/null || { touch /etc/config/fstab; uci set fstab.usb=mount; }\n"
        "uci set fstab.usb.target=/mnt/usb && uci set fstab.usb.enabled=1 && "
        "uci commit fstab && uci set edgeftpd.main.root=/mnt/usb/ftp && "
        "uci commit edgeftpd")
    check("fstab and root on the USB disk", code == 0, err)
    r.clear_ubus()
    code, out, err = r.sh("/etc/init.d/edgeftpd start")
    msg = r.last("set")
    check("root on an unmounted disk: no instance, and it says why",
          msg["instances"] == {} and "waiting for /mnt/usb to be mounted" in err,
          f"{msg} {err}")
    check("a mount trigger restarts it when /mnt/usb is mounted",
          ["mount.add", ["if", ["eq", "target", "/mnt/usb"],
                         ["run_script", "/etc/init.d/edgeftpd", "restart"]], 1000]
          in msg["triggers"], json.dumps(msg["triggers"]))
    r.mounts = ["/mnt/usb"]
    code, out, err = r.sh("mkdir -p /mnt/usb/ftp && echo usb > /mnt/usb/ftp/disk.txt && "
                          "/etc/init.d/edgeftpd restart")
    msg = r.last("set")
    check("mounted: restart starts the instance", "instance1" in msg["instances"],
          f"{msg} {err}")

    # After a stop, a reload starts it and sends no SIGHUP (a fresh process could die of it).
    r.sh("/etc/init.d/edgeftpd stop")
    r.procd_stop()
    r.clear_ubus()
    r.sh("/etc/init.d/edgeftpd reload")
    check("reload after stop: started, no SIGHUP", "instance1" in r.last("set")["instances"]
          and r.last("signal") is None, str(r.ubus_calls()))

    # enabled 0 and a reload: procd gets the service without its instance (it stops it).
    r.clear_ubus()
    code, out, err = r.sh("uci set edgeftpd.main.enabled=0 && uci commit edgeftpd && "
                          "/etc/init.d/edgeftpd reload")
    check("enabled 0 then reload: no instance, no signal",
          r.last("set")["instances"] == {} and r.last("signal") is None, str(r.ubus_calls()))
    if r.package and r.opkg:
        before = open(r.path("/etc/config/edgeftpd")).read()
        code, out, err = r.sh(f"opkg install --force-reinstall /tmp/{os.path.basename(IPK)}")
        check("opkg reinstall (an upgrade) keeps the admin's /etc/config/edgeftpd",
              code == 0 and open(r.path("/etc/config/edgeftpd")).read() == before and
              "option name 'bob'" in before, out + err)
        r.clear_ubus()
        code, out, err = r.sh(f"opkg remove {r.package}")
        check("opkg remove: prerm stops the service and removes the links; the binary goes",
              code == 0 and os.listdir(r.path("/etc/rc.d")) == [] and
              r.last("delete") == {"name": "edgeftpd"}
              and not os.path.exists(r.path("/usr/sbin/edgeftpd")),
              f"{out}{err}{r.ubus_calls()} {os.path.exists(r.path('/usr/sbin/edgeftpd'))}")
    elif r.package:
        r.clear_ubus()
        code, out, err = r.sh(f"/usr/lib/opkg/info/{r.package}.prerm && ls /etc/rc.d")
        check("prerm stops the service and removes the links", code == 0 and
              out.split() == [] and r.last("delete") == {"name": "edgeftpd"}, out + err)
    else:
        code, out, err = r.sh("/etc/init.d/edgeftpd disable && ls /etc/rc.d")
        check("disable removes the links", code == 0 and out.split() == [], out + err)


if __name__ == "__main__":
    main()
