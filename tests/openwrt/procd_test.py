#!/usr/bin/env python3
"""The OpenWrt init script (cross/openwrt/edgeftpd.init) run by OpenWrt's own procd.

A router booted in a PID and mount namespace over a sysroot: OpenWrt's real procd is its
PID 1 (in container mode, as OpenWrt runs in LXC), and starts ubusd and logd as on a router;
the init scripts are OpenWrt's real /etc/rc.common, /lib/functions.sh,
/lib/functions/procd.sh and /lib/config/uci.sh, with host builds of `uci`, libubox's `jshn`
and `jsonfilter`, under busybox's shell and applets. So respawn, reload triggers
(`uci commit` and `reload_config`), mount triggers, adding and dropping instances, and
logread are procd's own. An admin's day on it, then the package removed.

    OPENWRT_SYSROOT=DIR python3 tests/openwrt/procd_test.py [--ipk PACKAGE | --apk PACKAGE | BINARY]

DIR is laid out as a router's root (etc/rc.common, lib/functions.sh, lib/functions/procd.sh,
lib/config/uci.sh, sbin/procd, sbin/ubusd, sbin/logd, sbin/logread, sbin/udevtrigger,
sbin/uci, sbin/reload_config, sbin/service, bin/ubus, usr/bin/jshn, usr/bin/jsonfilter,
usr/share/libubox/jshn.sh, bin/opkg, etc/inittab, etc/init.d/log, their libraries in usr/lib)
and lists their origins and revisions in DIR/SOURCES. Its etc/init.d/firewall is a stand-in
for fw4: like fw4 it reloads on a config.change of `firewall` and reads what services gave
procd for it (`ubus call service get_data '{"type":"firewall"}'`), into /tmp/firewall.rules.
This repository neither holds OpenWrt's code nor a recipe that fetches or builds it (its
machines reach only package registries), so `make test` and CI cannot run this;
`make openwrt-test OPENWRT_SYSROOT=DIR` does. The router has no /sys (procd's coldplug finds
no device) and its /proc/kmsg is a silent pipe (logd reads no kernel log); it shares the
host's network, and every server it runs listens on 127.0.0.1.

With --apk, the OpenWrt 25 package (dist/packages/openwrt-apk/ARCH/) is installed by the
real apk of apk-tools 3 (DIR/bin/apk) into a root whose database `apk --initdb` made: `apk
add --allow-untrusted`, an upgrade to release r2 (made by cross/package.py), `apk del`, then
from the feed beside it: refused without its key, installed with it.
With --ipk, the package (`make package`; an armv7, aarch64, mipsel or mips one) is installed
by OpenWrt's own opkg (DIR/bin/opkg, a host build of opkg-lede): `opkg install`, which runs
its postinst, `opkg install --force-reinstall` keeping the admin's conffile, and `opkg
remove`, which runs its prerm. Its binary runs under qemu-user through the host's
binfmt_misc (registered with the F flag, so that it works in the router's root), and with the
-tls package the first start makes the FTPS certificate with openssl (copied into the root:
px5g is not in Debian). Else BINARY, the host build (default target/debug/edgeftpd), is put
in place with the repository's init script and config. Runs as root; talks to 127.0.0.1
only. Prints "N passed, N failed".
"""

import ftplib
import io
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
# The package under test (--ipk: opkg's; --apk: apk-tools 3's), or None.
KIND = sys.argv[1][2:] if sys.argv[1:2] in (["--ipk"], ["--apk"]) else None
IPK = os.path.abspath(sys.argv[2]) if KIND else None
BINARY = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 and not IPK else
                         os.path.join(REPO, "target/debug/edgeftpd"))
CONF = "/var/run/edgeftpd/edgeftpd.conf"
USERS = "/var/run/edgeftpd/users"
PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
# What DIR must hold: OpenWrt's scripts and programs (their libraries are copied in).
SYSROOT_FILES = ["etc/rc.common", "lib/functions.sh", "lib/functions/procd.sh",
                 "lib/functions/service.sh", "lib/config/uci.sh",
                 "usr/share/libubox/jshn.sh", "etc/inittab", "etc/init.d/log",
                 "etc/init.d/firewall", "etc/init.d/boot", "sbin/reload_config", "sbin/service"]
SYSROOT_PROGS = ["sbin/procd", "sbin/ubusd", "sbin/logd", "sbin/logread", "sbin/udevtrigger",
                 "sbin/uci", "bin/ubus", "usr/bin/jshn", "usr/bin/jsonfilter", "bin/opkg",
                 "sbin/ujail"]

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
    """A router's root in a temporary directory, with the package's files installed, and
    its procd once booted."""

    def __init__(self):
        self.root = tempfile.mkdtemp(prefix="edgeftpd-openwrt-")
        r = self.root
        shutil.copytree(SYSROOT, r, dirs_exist_ok=True, symlinks=True)
        for d in ["bin", "sbin", "usr/bin", "usr/sbin", "etc/config", "etc/rc.d",
                  "etc/init.d", "tmp/run", "tmp/lock", "tmp/state", "tmp/shm", "proc", "dev",
                  "mnt", "srv", "home"]:
            os.makedirs(os.path.join(r, d), exist_ok=True)
        os.symlink("tmp", os.path.join(r, "var"))
        # OpenWrt's base-files users: root, ftp (55) and ubus (81, ubusd runs as it).
        with open(os.path.join(r, "etc/passwd"), "w") as f:
            f.write("root:x:0:0:root:/root:/bin/ash\nftp:*:55:55:ftp:/home/ftp:/bin/false\n"
                    "ubus:*:81:81:ubus:/var/run/ubus:/bin/false\n")
        with open(os.path.join(r, "etc/group"), "w") as f:
            f.write("root:x:0:\nftp:x:55:\nubus:x:81:\n")
        # busybox, as the router's shell and applets.
        bb = shutil.which("busybox")
        shutil.copy(bb, os.path.join(r, "bin/busybox"))
        applets = subprocess.run([bb, "--list-full"], capture_output=True, text=True).stdout
        for a in applets.split():
            link = os.path.join(r, a)
            os.makedirs(os.path.dirname(link), exist_ok=True)
            if not os.path.lexists(link):
                os.symlink("/bin/busybox", link)
        # The host build of ujail is glibc's: it mounts /etc/nsswitch.conf in every jail
        # (OpenWrt's, musl's, does not).
        with open(os.path.join(r, "etc/nsswitch.conf"), "w") as f:
            f.write("passwd: files\ngroup: files\n")
        self.package = None
        # flock, which OpenWrt's busybox has and Debian's lacks (procd.sh locks with it).
        shutil.copy(shutil.which("flock"), os.path.join(r, "usr/bin/flock"))
        progs = ["bin/busybox", "usr/bin/flock"] + [p for p in SYSROOT_PROGS]
        if KIND == "apk":
            # apk itself installs it (admin_day), into a root whose package database is
            # made as an image's is (apk --initdb), for the package's architecture.
            self.package, self.arch = package_meta(IPK)
            shutil.copy(IPK, os.path.join(r, "tmp", os.path.basename(IPK)))
            os.makedirs(os.path.join(r, "etc/apk"), exist_ok=True)
            with open(os.path.join(r, "etc/apk/arch"), "w") as f:
                f.write(self.arch + "\n")
            subprocess.run([os.path.join(SYSROOT, "bin/apk"), "--root", r, "--initdb",
                            "--no-network", "add"], check=True, capture_output=True,
                           env=dict(os.environ, LD_LIBRARY_PATH=os.path.join(SYSROOT, "usr/lib")))
            progs.append("bin/apk")
        elif IPK:
            self.package, self.arch = package_meta(IPK)
            # opkg itself installs it (admin_day): its configuration, and the package.
            shutil.copy(IPK, os.path.join(r, "tmp", os.path.basename(IPK)))
            with open(os.path.join(r, "etc/opkg.conf"), "w") as f:
                f.write("dest root /\ndest ram /tmp\nlists_dir ext /var/opkg-lists\n"
                        "option overlay_root /overlay\narch all 1\narch noarch 1\n"
                        f"arch {self.arch} 10\n")
        else:
            shutil.copy(os.path.join(REPO, "cross/openwrt/edgeftpd.init"),
                        os.path.join(r, "etc/init.d/edgeftpd"))
            os.chmod(os.path.join(r, "etc/init.d/edgeftpd"), 0o755)
            shutil.copy(os.path.join(REPO, "cross/openwrt/edgeftpd.config"),
                        os.path.join(r, "etc/config/edgeftpd"))
            shutil.copy(BINARY, os.path.join(r, "usr/sbin/edgeftpd"))
            # ujail mounts the binary's libraries in its jail: the host build's are glibc's.
            with open(os.path.join(r, "etc/ld.so.conf"), "w") as f:
                f.write("/lib/x86_64-linux-gnu\n/usr/lib/x86_64-linux-gnu\n")
            os.makedirs(os.path.join(r, "etc/capabilities"), exist_ok=True)
            shutil.copy(os.path.join(REPO, "cross/openwrt/edgeftpd.capabilities.json"),
                        os.path.join(r, "etc/capabilities/edgeftpd.json"))
            progs.append("usr/sbin/edgeftpd")
        # openssl, which makes the FTPS certificate at the first start (px5g is not in Debian).
        shutil.copy(shutil.which("openssl"), os.path.join(r, "usr/bin/openssl"))
        os.makedirs(os.path.join(r, "usr/lib/ssl"), exist_ok=True)
        shutil.copy("/usr/lib/ssl/openssl.cnf", os.path.join(r, "usr/lib/ssl/openssl.cnf"))
        progs.append("usr/bin/openssl")
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
        # The boot links of the router's own services (log, firewall, ...).
        self.others = sorted(os.listdir(os.path.join(r, "etc/rc.d")))
        self.procd = None  # the unshare process whose child is procd
        self.pid = None    # procd's pid on the host

    def path(self, p):
        return os.path.join(self.root, p.lstrip("/"))

    def boot(self):
        """procd as PID 1 of new PID and mount namespaces, chrooted in the router's root;
        returns once ubusd answers and procd has run the boot scripts (/etc/rc.d/S*)."""
        r = self.root
        fifo = os.path.join(os.path.dirname(r), os.path.basename(r) + ".kmsg")
        console = os.path.join(os.path.dirname(r), os.path.basename(r) + ".console")
        self.console = console
        for p in (fifo, console):
            if os.path.exists(p):
                os.remove(p)
        os.mkfifo(fifo)
        open(console, "w").close()
        nodes = "null zero random urandom full tty"
        # The router's root is a mount point of its namespace, pivoted into (as a real
        # root is: ujail's pivot_root needs one), with a /dev of its own.
        setup = f"""
mount --bind {r} {r}
mount -t tmpfs -o size=1m,mode=0755 dev {r}/dev
for d in {nodes}; do touch {r}/dev/$d; mount --bind /dev/$d {r}/dev/$d; done
touch {r}/dev/console && mount --bind {console} {r}/dev/console
mount -t proc proc {r}/proc
exec 9<>{fifo}
mount --bind {fifo} {r}/proc/kmsg
mkdir -p {r}/.oldroot && cd {r} && pivot_root . .oldroot
exec /usr/bin/env -i container=edgeftpd-test PATH={PATH} /bin/sh -c \
  'umount -l /.oldroot && exec /sbin/procd'
"""
        self.procd = subprocess.Popen(["unshare", "--pid", "--mount", "--fork",
                                       "--propagation", "private", "/bin/sh", "-c", setup],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            time.sleep(0.1)
            kids = open(f"/proc/{self.procd.pid}/task/{self.procd.pid}/children").read().split()
            if not kids:
                continue
            self.pid = int(kids[0])
            if os.readlink(f"/proc/{self.pid}/exe").endswith("/sbin/procd"):
                code, out, _ = self.sh("ubus call service list")
                if code == 0 and '"log"' in out and "init complete" in self.logread():
                    return
        raise RuntimeError("procd did not boot: " + open(console).read())

    def sh(self, command, timeout=60):
        """Runs `command` (a shell line) in the router, as an admin's ssh session would."""
        p = subprocess.run(["nsenter", "-t", str(self.pid), "-m", "-p", "-r", "-w",
                            "/usr/bin/env", "-i", "PATH=" + PATH, "/bin/sh", "-c", command],
                           capture_output=True, text=True, timeout=timeout)
        return p.returncode, p.stdout, p.stderr

    def logread(self):
        return self.sh("logread")[1]

    def service(self):
        """edgeftpd as procd has it (`ubus call service list`, verbose), or None."""
        code, out, err = self.sh("ubus call service list '{\"name\":\"edgeftpd\",\"verbose\":true}'")
        return json.loads(out).get("edgeftpd") if code == 0 and out.strip() else None

    def instance(self):
        return ((self.service() or {}).get("instances") or {}).get("instance1")

    def server_pid(self, wait=15, other_than=None):
        """The pid (in the router) of the running edgeftpd instance, waiting for one."""
        end = time.time() + wait
        while True:
            inst = self.instance()
            if inst and inst.get("running") and inst.get("pid") != other_than:
                return inst["pid"]
            if time.time() > end:
                return None
            time.sleep(0.2)

    def mount_disk(self, target):
        """A USB disk (a tmpfs) mounted at `target`, then the event fstools' blockd gives
        procd after a mount (`mount.add` with the target: blockd notifies it on its ubus
        object `block`, which procd watches; here it reaches procd's triggers through
        `ubus call service event`)."""
        self.sh(f"mount -t tmpfs -o size=8m,mode=0755 usb {target}")
        return self.sh("ubus call service event "
                       f"'{{\"type\":\"mount.add\",\"data\":{{\"target\":\"{target}\"}}}}'")

    def close(self):
        if self.procd:
            if self.pid:
                try:
                    os.kill(self.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            self.procd.wait(timeout=30)
        shutil.rmtree(self.root, ignore_errors=True)
        for p in (".kmsg", ".console"):
            try:
                os.remove(self.root + p)
            except FileNotFoundError:
                pass


def package_meta(path):
    """A package's name and architecture, from its control file (.ipk) or its ADB (.apk)."""
    if KIND == "apk":
        sys.path.insert(0, os.path.join(REPO, "cross"))
        import apk
        info = apk.root(apk.read(open(path, "rb").read())[1])[0]
        return info[0].decode(), info[4].decode()
    ctl = tar_members(tar_members(open(path, "rb").read())["./control.tar.gz"])
    fields = dict(l.split(": ", 1) for l in ctl["./control"].decode().splitlines()
                  if ": " in l)
    return fields["Package"], fields["Architecture"]


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
            c.close()
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
        sys.exit("procd_test: runs as root (namespaces, chroot, mounts)")
    missing = [n for n in SYSROOT_FILES + SYSROOT_PROGS
               if not os.path.exists(os.path.join(SYSROOT, n))]
    if not SYSROOT or missing:
        sys.exit(f"procd_test: OPENWRT_SYSROOT={SYSROOT!r} lacks {missing}")
    print("OpenWrt pieces (" + SYSROOT + "/SOURCES):")
    with open(os.path.join(SYSROOT, "SOURCES")) as f:
        print("  " + f.read().strip().replace("\n", "\n  "))
    if IPK:
        global SERVER
        arch = package_meta(IPK)[1]
        reg = "/proc/sys/fs/binfmt_misc/" + qemu_for_openwrt_arch(arch).replace("-static", "")
        flags = open(reg).read().split("flags: ")[1].split()[0] if os.path.exists(reg) else ""
        SERVER = qemu_for_openwrt_arch(arch)
        if "F" not in flags:
            sys.exit(f"procd_test: {reg} is not registered with the F flag (Debian's "
                     "qemu-user-static registers it): procd could not start the package's "
                     "binary")
    r = Router()
    try:
        r.boot()
        admin_day(r)
    finally:
        r.close()
    finish()


def wait_for(what, timeout=15, every=0.2):
    """Polls `what()` until it is true (procd's triggers run after their 1 s delay)."""
    end = time.time() + timeout
    while True:
        v = what()
        if v or time.time() > end:
            return v
        time.sleep(every)


# The server's program as /proc names it: the package's runs under qemu-user (binfmt_misc).
SERVER = "edgeftpd"


def tree(r, pid):
    """The processes procd's instance `pid` is, from the top: (pid, program, uid, CapEff,
    CapBnd) each: ujail, then the server's root monitor, then its serving process."""
    code, out, err = r.sh(f"p={pid}; while [ -n \"$p\" ]; do "
                          "echo $p $(readlink /proc/$p/exe) "
                          "$(awk '/^Uid:/ {u=$2} /^CapEff:/ {e=$2} /^CapBnd:/ {b=$2} "
                          "END {print u, e, b}' /proc/$p/status); "
                          "p=$(cat /proc/$p/task/$p/children 2>/dev/null | cut -d' ' -f1); done")
    return [(int(w[0]), w[1], int(w[2]), int(w[3], 16), int(w[4], 16))
            for w in (l.split() for l in out.splitlines()) if len(w) == 5]


def monitor(r, pid):
    """The server's own top process (under ujail: the jailed one)."""
    t = tree(r, pid)
    return t[1][0] if t and t[0][1].endswith("/ujail") and len(t) > 1 else pid


def login(port, user="anonymous", password="guest@example.com"):
    """A logged-in client, or the reply that refused the login (a str), or None."""
    try:
        return ftp(port, user, password, tries=20)
    except ftplib.error_perm as e:
        return str(e)
    except (OSError, ftplib.Error):
        return None


def refused(port, user="anonymous", password="guest@example.com"):
    """The reply that refuses this login, or None when it gets in."""
    c = login(port, user, password)
    if isinstance(c, ftplib.FTP):
        c.quit()
        return None
    return c or "no answer"


def client(port, user, password):
    c = login(port, user, password)
    return c if isinstance(c, ftplib.FTP) else None


def closed(port):
    """True when nothing listens on the port any more."""
    s = socket.socket()
    try:
        s.connect(("127.0.0.1", port))
        return False
    except OSError:
        return True
    finally:
        s.close()


def admin_day(r):
    port, port2 = free_port(), free_port()
    tls = r.package != "edgeftpd"  # (the host build has TLS)
    # The package, as installed. The shipped config serves nothing until enabled.
    if r.package:
        tool = "apk add --allow-untrusted" if KIND == "apk" else "opkg install"
        code, out, err = r.sh(f"{tool} /tmp/{os.path.basename(IPK)} && ls /etc/rc.d")
        what = f"{tool} {os.path.basename(IPK)}: its {'post-install' if KIND == 'apk' else 'postinst'}"
    else:
        code, out, err = r.sh("/etc/init.d/edgeftpd enable && /etc/init.d/edgeftpd start "
                              "&& ls /etc/rc.d")
        what = "enable, then start"
    check(f"{what} links S60edgeftpd and K40edgeftpd; start says nothing is served until "
          "enabled, and how", code == 0 and
          {"K40edgeftpd", "S60edgeftpd"} <= set(out.split()) and
          "not started: edgeftpd.main.enabled is 0 (to serve: uci set "
          "edgeftpd.main.enabled=1; uci commit edgeftpd; service edgeftpd reload)"
          in out + err, out + err)
    svc = r.service()
    check("procd has the service, with no instance", svc is not None and
          not svc.get("instances"), json.dumps(svc))
    code, out, err = r.sh("echo 'bob secret' | /usr/sbin/edgeftpd --hash-password")
    bob_hash = out.strip()
    check("--hash-password on the router makes a $6$ hash", code == 0 and
          bob_hash.startswith("$6$"), err)

    # The advice, word for word, on a router with no disk yet (only the listen address is
    # moved to loopback first: tests listen on 127.0.0.1 only).
    r.sh(f"uci delete edgeftpd.main.listen; uci add_list edgeftpd.main.listen=127.0.0.1:{port}; "
         "uci set edgeftpd.main.pasv_ports=46000-46099; uci commit edgeftpd")
    code, out, err = r.sh("uci set edgeftpd.main.enabled=1; uci commit edgeftpd; "
                          "service edgeftpd reload")
    svc = r.service()
    check("the advice with no disk mounted: it waits for one and says so", code == 0 and
          not (svc or {}).get("instances") and "waiting for a USB disk to be mounted under "
          "/mnt: edgeftpd.main.root is not set, so anonymous serves the first one" in err and
          "waiting for a USB disk" in r.logread(), f"{code} {err} {json.dumps(svc)}")
    os.makedirs(r.path("/mnt/sda1"))
    r.mount_disk("/mnt/sda1")
    r.sh("echo jpeg > /mnt/sda1/holiday.jpg")
    pid = r.server_pid(wait=20)
    check("the disk's mount starts it (procd's mount.add trigger)", pid is not None,
          json.dumps(r.service()) + r.logread()[-2000:])
    c = client(port, "anonymous", "guest@example.com")
    got, stor = None, None
    if c:
        got = retr(c, "holiday.jpg")
        try:
            stor = c.storbinary("STOR x.txt", io.BytesIO(b"x"))
        except ftplib.error_perm as e:
            stor = str(e)
        c.quit()
    check("anonymous reads the disk and cannot write to it", got == b"jpeg\n" and
          (stor or "").startswith("550"), f"{got!r} {stor}")
    t = tree(r, pid) if pid else []
    caps = (1 << 10) | (1 << 7) | (1 << 6) | (1 << 5)
    check("procd's jail: ujail, then the server's root monitor with the capabilities of "
          "/etc/capabilities/edgeftpd.json only (port 21, setuid, setgid, kill), then the "
          "serving process as ftp with none",
          [(p[1].rsplit("/", 1)[-1], p[2], p[3], p[4]) for p in t] ==
          [("ujail", 0, t[0][3], t[0][4]), (SERVER, 0, caps, caps), (SERVER, 55, 0, caps)]
          if len(t) == 3 else False, str(t))

    # An admin's uci commands, applied as LuCI applies them: uci commit, reload_config.
    os.makedirs(r.path("/home/bob/pub"))
    with open(r.path("/home/bob/pub/notes.txt"), "w") as f:
        f.write("notes\n")
    with open(r.path("/srv/hello.txt"), "w") as f:
        f.write("hello\n")
    admin = f"""set -e
chown -R ftp:ftp /home/bob
uci set edgeftpd.main.root=/srv
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
reload_config
"""
    code, out, err = r.sh(admin)
    check("uci set, commit and reload_config, every command", code == 0, err)
    c = wait_for(lambda: client(port, "bob", "bob secret"), every=1.5)
    # New folders to serve are new mounts in procd's jail: procd starts the server again in
    # a new jail (other settings reload in place: below).
    check("procd's reload trigger applies it: bob's home is a new mount in the jail, so a "
          "new server (procd's restart); bob logs in; /pub is read-only for him",
          c is not None and r.server_pid() not in (pid, None) and
          retr(c, "pub/notes.txt") == b"notes\n" and
          c.storbinary("STOR up.txt", io.BytesIO(b"up")).startswith("226"),
          "\n".join(l for l in r.logread().splitlines() if "WARN" not in l)[-3000:])
    pid = r.server_pid()
    if c:
        try:
            c.storbinary("STOR pub/x.txt", io.BytesIO(b"x"))
            check("bob cannot write in /pub", False)
        except ftplib.error_perm as e:
            check("bob cannot write in /pub", str(e).startswith("550"), str(e))
        c.quit()
    c = client(port, "anonymous", "guest@example.com")
    check("anonymous now gets /srv", c is not None and retr(c, "hello.txt") == b"hello\n")
    if c:
        c.quit()
    svc = r.service() or {}
    inst = (svc.get("instances") or {}).get("instance1", {})
    check("procd's instance: edgeftpd --config " + CONF + ", respawn 3600 5 5, "
          "term_timeout 10; the server's log in logread",
          inst.get("command") == ["/usr/sbin/edgeftpd", "--config", CONF] and
          inst.get("respawn") == {"threshold": 3600, "timeout": 5, "retry": 5} and
          inst.get("term_timeout") == 10 and
          f"edgeftpd[{pid}]: " in r.logread() and "listening on 127.0.0.1:" in r.logread(),
          json.dumps(inst) + r.logread()[-1000:])
    check("a reload trigger on config.change of edgeftpd",
          ["config.change", ["if", ["eq", "package", "edgeftpd"],
                             ["run_script", "/etc/init.d/edgeftpd", "reload"]], 1000]
          in svc.get("triggers", []), json.dumps(svc.get("triggers")))
    data = inst.get("data", {})
    check("mDNS: _ftp._tcp on the listen port",
          data.get("mdns", {}).get(f"ftp_{port}") ==
          {"service": "_ftp._tcp.local", "port": port, "txt": ["path=/"]}, json.dumps(data))
    check("plain-text password refused with a clear line in logread",
          "user eve: option password is not a $6$ hash; plain text is refused" in r.logread(),
          r.logread()[-1500:])
    with open(r.path(CONF)) as f:
        conf = f.read()
    tls_lines = ("tls-cert = /etc/edgeftpd/ftps.crt\ntls-key = /etc/edgeftpd/ftps.key\n"
                 if tls else "")
    want = (f"anonymous = 1\nrun-as = ftp\npasv-ports = 46000-46099\n{tls_lines}"
            f"listen = 127.0.0.1:{port}\nroot = /srv\nallow = 10.0.0.0/8\n"
            f"allow = 127.0.0.0/8\nmax-clients = 20\nusers = {USERS}\n")
    check("the config file: one line per option in UCI's order, named as the long flags",
          conf == want, repr(conf))
    with open(r.path(USERS)) as f:
        users = f.read()
    st = os.stat(r.path(USERS))
    check("the users file: bob's line, eve left out; mode 0600, root's",
          users == f"bob:{bob_hash}:/home/bob:rw,/pub=ro,quota=1M\n" and
          stat.S_IMODE(st.st_mode) == 0o600 and st.st_uid == 0, f"{users!r} {oct(st.st_mode)}")
    jailed = monitor(r, r.server_pid())
    code, out, err = r.sh(f"cd /proc/{jailed}/root && ls -d etc/* srv/* home/bob/* 2>&1; "
                          f"grep -E ' /srv | /home/bob ' /proc/{jailed}/mountinfo")
    seen = out.split()
    check("in the jail the server sees its files and folders only: no /etc/config, /srv "
          "read-only (anonymous reads it), /home/bob writable (bob uploads)",
          "etc/config" not in seen and "etc/rc.common" not in seen and
          "etc/passwd" in seen and "srv/hello.txt" in seen and "home/bob/up.txt" in seen and
          any(" /srv " in l and " ro," in l for l in out.splitlines()) and
          any(" /home/bob " in l and " rw," in l for l in out.splitlines()), out + err)
    if tls:
        check("the first start made a self-signed FTPS certificate, its key 0600",
              "made a self-signed FTPS certificate" in r.logread() and
              stat.S_IMODE(os.stat(r.path("/etc/edgeftpd/ftps.key")).st_mode) == 0o600,
              r.logread()[-1500:])
        got = subprocess.run(["curl", "-s", "--ssl-reqd", "-k", "--max-time", "20",
                              f"ftp://127.0.0.1:{port}/hello.txt"], capture_output=True)
        check("FTPS with that certificate (curl --ssl-reqd)", got.stdout == b"hello\n",
              str(got))

    # A typo, committed: the reload is refused and the server goes on as it was.
    r.sh("uci set edgeftpd.main.anonymous=0 && uci set edgeftpd.main.bogus_option=1 && "
         "uci commit edgeftpd && reload_config")
    said = wait_for(lambda: "reload refused" in r.logread())
    log = r.logread()
    check("a wrong option, committed: logread says the reload was refused, and why",
          said and "reload refused, the server goes on with its earlier settings: " in log
          and "unknown setting bogus-option" in log, log[-1500:])
    time.sleep(1.5)
    check("... and the same server goes on with its earlier settings (anonymous still in)",
          r.server_pid() == pid and refused(port) is None, json.dumps(r.service()))
    code, out, err = r.sh("/etc/init.d/edgeftpd reload")
    check("the same reload by hand fails and says why", code != 0 and
          "unknown setting bogus-option" in err and r.server_pid() == pid, f"{code} {err}")
    r.sh("uci delete edgeftpd.main.bogus_option && uci commit edgeftpd && reload_config")
    # (Anonymous's root leaves the jail: procd starts the server again.)
    check("the typo mended: the reload applies (anonymous refused)",
          (wait_for(lambda: refused(port), every=1.5) or "").startswith("530"),
          r.logread()[-1000:])
    pid = r.server_pid()

    # procd's respawn: the server killed, procd starts it again.
    # (Jailed, the instance is ujail; the server is its child.)
    r.sh(f"kill -9 {monitor(r, pid)}")
    new = r.server_pid(wait=20, other_than=pid)
    c = wait_for(lambda: client(port, "bob", "bob secret"), every=1.5)
    check("killed, the server is started again by procd (respawn)", new is not None and
          c is not None and retr(c, "up.txt") == b"up", json.dumps(r.service()))
    if c:
        c.quit()
    pid = new

    # A new listen address: the reload's SIGHUP, and the server starts again in place.
    r.sh(f"uci delete edgeftpd.main.listen && uci add_list "
         f"edgeftpd.main.listen=127.0.0.1:{port2} && uci commit edgeftpd && reload_config")
    c = wait_for(lambda: client(port2, "bob", "bob secret"), every=1.5)
    check("a new listen port applies on reload, same process",
          c is not None and retr(c, "up.txt") == b"up" and r.server_pid() == pid,
          f"{pid} {r.server_pid()} {c}" + r.logread()[-2500:])
    if c:
        c.quit()
    check("mDNS follows the new port", f"ftp_{port2}" in
          (r.instance() or {}).get("data", {}).get("mdns", {}), json.dumps(r.instance()))

    # The firewall (fw4's stand-in reads what procd has for it at each of its reloads).
    def fw_rules():
        try:
            with open(r.path("/tmp/firewall.rules")) as f:
                return json.dumps(json.load(f))
        except (FileNotFoundError, ValueError):
            return ""
    check("wan_access 0: the firewall gets no rule of edgeftpd's",
          fw_rules() != "" and "Allow-edgeftpd" not in fw_rules(), fw_rules())
    r.sh("uci set edgeftpd.main.wan_access=1 && uci commit edgeftpd && reload_config")
    rule = lambda p: {"type": "rule", "name": f"Allow-edgeftpd-{p}", "src": "wan",
                      "proto": "tcp", "dest_port": p, "target": "ACCEPT"}
    got = wait_for(lambda: "Allow-edgeftpd" in fw_rules())
    rules = (json.loads(fw_rules() or "{}").get("edgeftpd", {}).get("instance1", {})
             .get("firewall"))
    check("wan_access 1: the firewall reloads and gets rules for the control port and the "
          "passive range", got and rules == [rule(str(port2)), rule("46000-46099")], fw_rules())
    r.sh("uci set edgeftpd.main.wan_access=0 && uci commit edgeftpd && reload_config")
    check("wan_access 0 again: the firewall reloads and the rules are gone",
          wait_for(lambda: fw_rules() and "Allow-edgeftpd" not in fw_rules()), fw_rules())

    # Out of the jail (`option jail 0`, or no procd-ujail installed): procd starts it again.
    r.sh("uci set edgeftpd.main.jail=0 && uci commit edgeftpd && reload_config")
    new = r.server_pid(wait=20, other_than=pid)
    c = wait_for(lambda: client(port2, "bob", "bob secret"), every=1.5)
    t = tree(r, new) if new else []
    check("jail 0: the server runs out of the jail (no ujail), and serves",
          c is not None and retr(c, "up.txt") == b"up" and len(t) == 2 and
          not t[0][1].endswith("/ujail"), str(t))
    if c:
        c.quit()

    # stop
    code, out, err = r.sh("/etc/init.d/edgeftpd stop")
    check("stop: procd stops the server and forgets the service", code == 0 and
          wait_for(lambda: r.service() is None and closed(port2)), json.dumps(r.service()))

    # A wrong option and a start: nothing starts, and start says why and fails.
    code, out, err = r.sh("uci set edgeftpd.main.bogus_option=1 && uci commit edgeftpd && "
                          "/etc/init.d/edgeftpd start")
    check("a wrong option: start fails, says why, nothing runs", code != 0 and
          "not started: /var/run/edgeftpd/edgeftpd.conf:" in err and
          "unknown setting bogus-option" in err and not (r.service() or {}).get("instances"),
          f"{code} {err}")
    r.sh("uci delete edgeftpd.main.bogus_option && uci commit edgeftpd")

    # A USB disk from /etc/config/fstab that is not mounted yet: no start, a mount trigger.
    os.makedirs(r.path("/mnt/usb"))
    code, out, err = r.sh(
        "touch /etc/config/fstab && uci set fstab.usb=mount && "
        "uci set fstab.usb.target=/mnt/usb && uci set fstab.usb.enabled=1 && "
        "uci commit fstab && uci set edgeftpd.main.root=/mnt/usb/ftp && "
        "uci commit edgeftpd")
    check("fstab and root on the USB disk", code == 0, err)
    code, out, err = r.sh("/etc/init.d/edgeftpd start")
    svc = r.service() or {}
    check("root on an unmounted disk: no instance, and it says why",
          code == 0 and not svc.get("instances") and
          "waiting for /mnt/usb to be mounted" in err, f"{svc} {err}")
    check("a mount trigger restarts it when /mnt/usb is mounted",
          ["mount.add", ["if", ["eq", "target", "/mnt/usb"],
                         ["run_script", "/etc/init.d/edgeftpd", "restart"]], 1000]
          in svc.get("triggers", []), json.dumps(svc.get("triggers")))
    r.mount_disk("/mnt/usb")
    r.sh("mkdir -p /mnt/usb/ftp && echo usb > /mnt/usb/ftp/disk.txt")
    check("mounted: procd's trigger starts it", r.server_pid(wait=20) is not None,
          json.dumps(r.service()) + r.logread()[-1000:])

    # enabled 0 and a reload: procd drops the instance (it stops the server).
    r.sh("uci set edgeftpd.main.enabled=0 && uci commit edgeftpd && reload_config")
    check("enabled 0, committed: procd stops the server",
          wait_for(lambda: not (r.service() or {}).get("instances")), json.dumps(r.service()))
    others = r.others
    if r.package and KIND == "apk":
        # An upgrade: the same files as release r2, made by cross/package.py.
        sys.path.insert(0, os.path.join(REPO, "cross"))
        import package
        triple = [t for t, arches in package.OPENWRT_ARCHES.items() if r.arch in arches][0]
        newer = package.apk_package(triple, r.arch, r.package == "edgeftpd-tls",
                                    package.version(), package.mtime(), release=2,
                                    out=r.path("/tmp"))
        r.sh("uci set edgeftpd.main.enabled=1 && uci commit edgeftpd && reload_config")
        old = r.server_pid(wait=20)
        before = open(r.path("/etc/config/edgeftpd")).read()
        code, out, err = r.sh(f"apk add --allow-untrusted /tmp/{os.path.basename(newer)} && "
                              f"apk list -I {r.package}")
        check("apk add of release r2 (an upgrade) keeps the admin's /etc/config/edgeftpd",
              code == 0 and f"{r.package}-{package.version()}-r2" in out and
              open(r.path("/etc/config/edgeftpd")).read() == before and
              "option name 'bob'" in before, out + err)
        new = r.server_pid(wait=20, other_than=old)
        check("... and its post-upgrade starts the running server again, with the new "
              "binary", new is not None, f"{old} {new} {out}{err}")
        removed(r, f"apk del {r.package}", "apk del: its pre-deinstall")
        # From a feed, as OpenWrt 25 installs: the signed index (packages.adb) beside the
        # packages, its public key in /etc/apk/keys, no --allow-untrusted.
        feed = os.path.dirname(IPK)
        os.makedirs(r.path("/tmp/feed"))
        for f in os.listdir(feed):
            shutil.copy(os.path.join(feed, f), r.path("/tmp/feed/" + f))
        os.makedirs(r.path("/etc/apk/repositories.d"), exist_ok=True)
        with open(r.path("/etc/apk/repositories.d/edgeftpd.list"), "w") as f:
            f.write("file:///tmp/feed/packages.adb\n")
        code, out, err = r.sh("apk update")
        check("without its key, apk refuses the feed's index (untrusted signature: no "
              "package from it)", "UNTRUSTED signature" in out + err and
              "0 distinct packages available" in out + err, out + err)
        os.makedirs(r.path("/etc/apk/keys"), exist_ok=True)
        shutil.copy(os.path.join(os.path.dirname(feed), "edgeftpd-apk.pem"),
                    r.path("/etc/apk/keys/edgeftpd-apk.pem"))
        code, out, err = r.sh(f"apk update && apk add {r.package} && apk list -I {r.package}")
        check(f"with the feed's key in /etc/apk/keys: apk update, apk add {r.package} (no "
              "--allow-untrusted); its post-install registers the service with procd",
              code == 0 and f"{r.package}-{package.version()}-r1" in out and
              r.service() is not None and os.path.exists(r.path("/etc/rc.d/S60edgeftpd")),
              out + err)
    elif r.package:
        before = open(r.path("/etc/config/edgeftpd")).read()
        code, out, err = r.sh(f"opkg install --force-reinstall /tmp/{os.path.basename(IPK)}")
        check("opkg reinstall (an upgrade) keeps the admin's /etc/config/edgeftpd",
              code == 0 and open(r.path("/etc/config/edgeftpd")).read() == before and
              "option name 'bob'" in before, out + err)
        r.sh("uci set edgeftpd.main.enabled=1 && uci commit edgeftpd && reload_config")
        removed(r, f"opkg remove {r.package}", "opkg remove: its prerm")
    else:
        code, out, err = r.sh("/etc/init.d/edgeftpd disable && ls /etc/rc.d")
        check("disable removes the links", code == 0 and sorted(out.split()) == others,
              out + err)


def removed(r, command, what):
    """The package removed (`command`) while its server runs: stopped, unlinked, gone."""
    running = r.server_pid(wait=20)
    code, out, err = r.sh(command)
    check(f"{what} stops the running server and removes the links; the binary goes",
          code == 0 and running is not None and
          sorted(os.listdir(r.path("/etc/rc.d"))) == r.others and r.service() is None and
          not os.path.exists(r.path("/usr/sbin/edgeftpd")),
          f"{running} {out}{err}{os.listdir(r.path('/etc/rc.d'))} {r.service()}")


if __name__ == "__main__":
    main()
