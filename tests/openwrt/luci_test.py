#!/usr/bin/env python3
"""luci-app-edgeftpd (cross/openwrt/luci-app-edgeftpd) in a real browser against real LuCI.

The router of tests/openwrt/procd_test.py (OpenWrt's procd as PID 1, ubusd, logd), with
LuCI as OpenWrt runs it: rpcd (its file, rpc-sys and ucode plugins, LuCI's ucode `luci`
object), uhttpd with its ubus and ucode handlers serving LuCI's ucode dispatcher,
luci-base's JavaScript and the bootstrap theme; the app installed by opkg from its package
(dist/packages/openwrt/luci-app-edgeftpd_*_all.ipk, `make package`), whose postinst reloads
rpcd; with --apk, by apk-tools 3 from its OpenWrt 25 .apk (the image's luci-base and
edgeftpd installed first by apk as packages of no files). Debian's chromium, headless, is driven through Debian's
chromedriver by the W3C WebDriver protocol (its HTTP API, on loopback): an admin logs in,
changes a setting, adds an account with a password, Saves & Applies; an FTP client then
logs in with that account; a wrong value shows the server's own refusal on the page and
is not applied; the status page shows the server running, who is logged in from where
and the upload in flight. A screenshot of each page goes
to docs/ (make luci-screenshots copies them there; the README shows them).

    OPENWRT_SYSROOT=DIR python3 tests/openwrt/luci_test.py [--apk] [SCREENSHOT_DIR]

DIR: as for procd_test.py, plus LuCI's pieces (its SOURCES names them). Not in CI, for the
reason procd_test.py gives. Runs as root; talks to 127.0.0.1 only. Prints "N passed, N
failed".
"""

import base64
import ftplib
import glob
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

APK = "--apk" in sys.argv[1:]
args = [a for a in sys.argv[1:] if a != "--apk"]
SHOTS = os.path.abspath(args[0]) if args else None
sys.argv = sys.argv[:1]  # (procd_test reads its own command line at import)
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import procd_test as p  # noqa: E402
from checks import check, finish  # noqa: E402

VERSION = __import__("tomllib").load(open(os.path.join(p.REPO, "Cargo.toml"), "rb"))[
    "package"]["version"]
# The app's package: opkg's, or with --apk the noarch .apk of OpenWrt 25's feeds (the same
# in each; the x86_64 router takes it from the first).
if APK:
    IPK = sorted(glob.glob(os.path.join(p.REPO, "dist/packages/openwrt-apk/*",
                                        f"luci-app-edgeftpd-{VERSION}-r1.apk")) or ["none"])[0]
else:
    IPK = os.path.join(p.REPO, "dist/packages/openwrt", f"luci-app-edgeftpd_{VERSION}-r1_all.ipk")
TOOL = "apk add --allow-untrusted" if APK else "opkg install"
W3C_ELEMENT = "element-6066-11e4-a52e-4f735466cecf"


class Browser:
    """Debian's chromium, headless, through chromedriver's W3C WebDriver HTTP API."""

    def __init__(self):
        self.port = p.free_port()
        self.profile = tempfile.mkdtemp(prefix="edgeftpd-chromium-")
        self.driver = subprocess.Popen(["chromedriver", f"--port={self.port}",
                                        "--allowed-ips=127.0.0.1"],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--window-size=1280,1000",
                f"--user-data-dir={self.profile}"]
        caps = {"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": "/usr/bin/chromium", "args": args}}}}
        self.session = self.call("POST", "/session", caps)["sessionId"]

    def call(self, method, path, body=None):
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", method=method,
                                     data=json.dumps(body).encode() if body is not None
                                     else None, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return json.loads(r.read())["value"]
        except urllib.error.HTTPError as e:
            raise RuntimeError(f"WebDriver {method} {path}: {e.read()[:400]!r}") from None

    def s(self, path, body=None, method="POST"):
        return self.call(method, f"/session/{self.session}{path}", body)

    def go(self, url):
        self.s("/url", {"url": url})

    def find(self, css, wait=20):
        """The elements matching `css`, waiting until there is one (LuCI renders late)."""
        end = time.time() + wait
        while True:
            found = self.s("/elements", {"using": "css selector", "value": css})
            if found or time.time() > end:
                return [e[W3C_ELEMENT] for e in found]
            time.sleep(0.2)

    def _retry(self, act, wait=20):
        """`act()`, again while the page is still being drawn (an element not yet shown,
        or replaced: LuCI renders its views, and its login dialog, in the page)."""
        end = time.time() + wait
        while True:
            try:
                return act()
            except (RuntimeError, IndexError) as e:
                if time.time() > end or not ("interactable" in str(e) or "stale" in str(e) or "intercepted" in str(e)
                                             or isinstance(e, IndexError)):
                    raise
                time.sleep(0.3)

    def type(self, css, text, index=-1):
        def act():
            el = self.find(css)[index]
            self.s(f"/element/{el}/clear", {})
            self.s(f"/element/{el}/value", {"text": text})
        self._retry(act)

    def click(self, css, index=0):
        self._retry(lambda: self.s(f"/element/{self.find(css)[index]}/click", {}))

    def js(self, script, *args):
        return self.s("/execute/sync", {"script": script, "args": list(args)})

    def text(self, css):
        els = self.find(css, wait=5)
        return self.s(f"/element/{els[0]}/text", method="GET") if els else ""

    def shot(self, name):
        if SHOTS:
            os.makedirs(SHOTS, exist_ok=True)
            with open(os.path.join(SHOTS, name), "wb") as f:
                f.write(base64.b64decode(self.s("/screenshot", method="GET")))

    def close(self):
        try:
            self.s("", method="DELETE")
        except OSError:
            pass
        self.driver.terminate()
        self.driver.wait(timeout=10)
        shutil.rmtree(self.profile, ignore_errors=True)


def install_luci(r):
    """LuCI's libraries, a root password, and the app's package (`make package`) ready
    for opkg or apk, which installs it once the router runs (admin)."""
    shutil.copy(IPK, r.path("/tmp/" + os.path.basename(IPK)))
    if APK:
        apk_database(r)
    # opkg's database as an image with LuCI and the server has it: luci-base (its files are
    # this router's LuCI) and edgeftpd (the host build here) installed.
    os.makedirs(r.path("/usr/lib/opkg"), exist_ok=True)
    with open(r.path("/usr/lib/opkg/status"), "w") as f:
        for name in ("luci-base", "edgeftpd"):
            f.write(f"Package: {name}\nVersion: 1\nStatus: install user installed\n"
                    "Architecture: all\nInstalled-Time: 0\n\n")
    os.makedirs(r.path("/usr/lib/opkg/info"), exist_ok=True)
    for name in ("luci-base", "edgeftpd"):
        open(r.path(f"/usr/lib/opkg/info/{name}.list"), "w").close()
    with open(r.path("/etc/opkg.conf"), "w") as f:
        f.write("dest root /\ndest ram /tmp\nlists_dir ext /var/opkg-lists\n"
                "option overlay_root /overlay\narch all 1\narch noarch 1\n")
    for prog in (["sbin/rpcd", "usr/sbin/uhttpd", "usr/bin/ucode", "bin/opkg"] +
                 (["bin/apk"] if APK else []) +
                 [f[len(r.root) + 1:] for f in glob.glob(r.path("/usr/lib") + "/**/*.so*",
                                                         recursive=True)]):
        for lib in p.libraries(r.path(prog), [r.path("/usr/lib")]):
            dest = r.path(lib)
            if not lib.startswith(r.root) and not os.path.exists(dest):
                os.makedirs(os.path.dirname(dest), exist_ok=True)
                shutil.copy(lib, dest)
    # uhttpd on a free port of loopback.
    r.http = p.free_port()
    with open(r.path("/etc/config/uhttpd"), "w") as f:
        f.write(f"config uhttpd 'main'\n\tlist listen_http '127.0.0.1:{r.http}'\n")
    pw = subprocess.run(["openssl", "passwd", "-6", "admin secret"], capture_output=True,
                        text=True, check=True).stdout.strip()
    with open(r.path("/etc/shadow"), "w") as f:
        f.write(f"root:{pw}:19000:0:99999:7:::\nftp:*:0:0:99999:7:::\n")
    os.chmod(r.path("/etc/shadow"), 0o600)


def apk_database(r):
    """apk's database as an OpenWrt 25 image has it (`apk --initdb`), and the two packages
    the app depends on, which the image has: luci-base (its files are this router's LuCI)
    and edgeftpd (the host build here), as packages of no files that apk installs first."""
    sys.path.insert(0, os.path.join(p.REPO, "cross"))
    import apk
    shutil.copy(os.path.join(p.SYSROOT, "bin/apk"), r.path("/bin/apk"))
    os.makedirs(r.path("/etc/apk"), exist_ok=True)
    with open(r.path("/etc/apk/arch"), "w") as f:
        f.write("x86_64\n")
    subprocess.run([os.path.join(p.SYSROOT, "bin/apk"), "--root", r.root, "--initdb",
                    "--no-network", "add"], check=True, capture_output=True,
                   env=dict(os.environ, LD_LIBRARY_PATH=os.path.join(p.SYSROOT, "usr/lib")))
    r.image = []
    for name in ("luci-base", "edgeftpd"):
        info = {"name": name, "version": "1-r1", "arch": "noarch", "license": "GPL-2.0",
                "description": f"{name} as the image has it", "origin": name}
        with open(r.path(f"/tmp/{name}-1-r1.apk"), "wb") as f:
            f.write(apk.package(info, [], {}, 0))
        r.image.append(f"/tmp/{name}-1-r1.apk")


def ftp_login(port, user, password):
    try:
        return p.ftp(port, user, password, tries=30)
    except (OSError, ftplib.Error) as e:
        return str(e)


def main():
    if os.geteuid() != 0:
        sys.exit("luci_test: runs as root (namespaces, chroot, mounts)")
    missing = [n for n in ["usr/sbin/uhttpd", "sbin/rpcd", "usr/share/ucode/luci/dispatcher.uc",
                           "www/luci-static/resources/form.js"]
               if not os.path.exists(os.path.join(p.SYSROOT, n))]
    if not os.path.exists(IPK):
        sys.exit(f"luci_test: no {IPK} (make package)")
    if missing or not shutil.which("chromedriver"):
        sys.exit(f"luci_test: OPENWRT_SYSROOT lacks {missing} or there is no chromedriver "
                 "(Debian: chromium chromium-driver)")
    r = p.Router()
    b = None
    try:
        install_luci(r)
        r.boot()
        b = Browser()
        admin(r, b)
    finally:
        if b:
            b.close()
        r.close()
    finish()


def wait_for(what, timeout=30):
    return p.wait_for(what, timeout=timeout, every=0.5)


def admin(r, b):
    port = p.free_port()
    # The app installed by opkg or apk, as an admin would; its postinst reloads rpcd,
    # which then has the app's object.
    if APK:
        code, out, err = r.sh(f"{TOOL} {' '.join(r.image)}")
        check("apk installs the image's luci-base and edgeftpd", code == 0, out + err)
    code, out, err = r.sh(f"{TOOL} /tmp/{os.path.basename(IPK)}")
    served = wait_for(lambda: "luci.edgeftpd" in r.sh("ubus list luci.edgeftpd")[1], 10)
    check(f"{TOOL} installs luci-app-edgeftpd; its post-install reloads rpcd, which serves "
          "luci.edgeftpd", code == 0 and served, out + err)
    os.makedirs(r.path("/srv/pub"))
    with open(r.path("/srv/pub/hello.txt"), "w") as f:
        f.write("hello\n")
    os.makedirs(r.path("/home/carol"))
    code, out, err = r.sh(
        f"chown ftp:ftp /home/carol && uci delete edgeftpd.main.listen && "
        f"uci add_list edgeftpd.main.listen=127.0.0.1:{port} && "
        "uci set edgeftpd.main.pasv_ports=47000-47099 && uci set edgeftpd.main.root=/srv && "
        "uci set edgeftpd.main.enabled=1 && uci commit edgeftpd && "
        "/etc/init.d/edgeftpd enable && /etc/init.d/edgeftpd start")
    check("the server runs (set up over ssh)", code == 0 and r.server_pid() is not None, err)
    luci = f"http://127.0.0.1:{r.http}/cgi-bin/luci"

    # Log in.
    b.go(luci + "/admin/services/edgeftpd/settings")
    b.type("#luci_password", "admin secret")
    b.click("form.cbi-map button.btn, form button[type=submit], .cbi-button-positive")
    check("LuCI's login, then the settings page (menu Services, FTP server)",
          b.find("[id='cbid.edgeftpd.main.min_free'], [name='cbid.edgeftpd.main.min_free']")
          != [], b.js("return document.body.innerText.slice(0, 500)"))
    b.shot("luci-settings.png")

    # A setting, saved and applied: procd's reload applies it (the server's config file), to
    # the same process (a reload, not a restart).
    before = r.server_pid()
    b.type("[id='widget.cbid.edgeftpd.main.min_free'], [id='cbid.edgeftpd.main.min_free']",
           "1%")
    b.click(".cbi-page-actions .cbi-button-apply")
    applied = wait_for(lambda: r.sh("uci -q get edgeftpd.main.min_free")[1].strip() == "1%"
                       and "min-free = 1%" in open(r.path(p.CONF)).read())
    check("Save & Apply: UCI has min_free 1%, and the server's config file (procd's reload); "
          "the same server process, which reloaded it",
          applied and wait_for(lambda: "SIGHUP: reloaded the configuration" in r.logread())
          and r.server_pid() == before,
          r.sh("uci show edgeftpd.main")[1] + open(r.path(p.CONF)).read())
    pid = r.server_pid()

    # An account with a password: hashed on the router; an FTP client logs in with it.
    b.go(luci + "/admin/services/edgeftpd/accounts")
    b.click(".cbi-section-create .cbi-button-add, .cbi-button-add")
    b.find("[id$='.name']")
    b.type("[id$='.name']", "carol")
    b.type("[id$='.password']", "carol secret")
    b.type("[id$='.home']", "/home/carol")
    b.js("var s = Array.from(document.querySelectorAll('select[id$=\".perm\"]')).pop();"
         "s.value = 'rw'; s.dispatchEvent(new Event('change', {bubbles: true}));")
    b.shot("luci-accounts.png")
    b.click(".cbi-page-actions .cbi-button-apply")
    c = wait_for(lambda: isinstance(ftp_login(port, "carol", "carol secret"), ftplib.FTP)
                 and ftp_login(port, "carol", "carol secret"))
    stored = r.sh("uci -q get edgeftpd.@user[-1].password")[1].strip()
    check("the new account: its password stored only as a $6$ hash; carol logs in over FTP "
          "and uploads", isinstance(c, ftplib.FTP) and stored.startswith("$6$") and
          "carol secret" not in open(r.path("/etc/config/edgeftpd")).read() and
          c.storbinary("STOR up.txt", io.BytesIO(b"up")).startswith("226"),
          f"{stored} {c}")
    if isinstance(c, ftplib.FTP):
        c.quit()
    # (carol's home is a new mount in procd's jail: procd started the server again.)
    pid = r.server_pid()

    # A wrong value: the server's own refusal on the page; nothing applied.
    b.go(luci + "/admin/services/edgeftpd/settings")
    b.click("li[data-tab='network'] a, a[data-tab='network']")
    b.type("[id='widget.cbid.edgeftpd.main.pasv_ports'], [id='cbid.edgeftpd.main.pasv_ports']",
           "47000-46000")
    b.click(".cbi-page-actions .cbi-button-apply")
    shown = wait_for(lambda: b.text(".edgeftpd-refused"))
    b.shot("luci-refused.png")
    check("a wrong value (passive ports 47000-46000): the page shows the server's refusal; "
          "UCI and the running server keep the old value",
          shown and "--pasv-ports 47000-46000: expected MIN-MAX" in shown and
          "refuses" in shown and "/tmp/" not in shown and
          r.sh("uci -q get edgeftpd.main.pasv_ports")[1].strip() == "47000-47099" and
          r.server_pid() == pid, f"{shown!r} {r.sh('uci -q get edgeftpd.main.pasv_ports')}")

    # Status: running, who is logged in and what each transfers (carol, an upload in
    # flight), the log.
    c = ftp_login(port, "carol", "carol secret")
    data = None
    if isinstance(c, ftplib.FTP):
        c.voidcmd("TYPE I")
        data = c.transfercmd("STOR cam.jpg")
        data.sendall(b"half a picture")
    b.go(luci + "/admin/services/edgeftpd/status")
    running = wait_for(lambda: b.text("#edgeftpd-running"))
    sessions = wait_for(lambda: "carol" in b.text("#edgeftpd-sessions")
                        and b.text("#edgeftpd-sessions")) or b.text("#edgeftpd-sessions")
    log = b.text("#edgeftpd-log")
    b.shot("luci-status.png")
    check("the status page: running with its pid; carol logged in from 127.0.0.1, her upload "
          "in flight named; the server's log lines without the session reports",
          running == f"running (pid {pid})" and "carol" in sessions and
          "127.0.0.1" in sessions and "STOR /cam.jpg" in sessions and "carol" in log and
          "session: " not in log, f"{running!r} {sessions!r} {log[-300:]!r}")
    if data is not None:
        data.close()
        c.voidresp()
    if isinstance(c, ftplib.FTP):
        c.quit()

if __name__ == "__main__":
    main()
