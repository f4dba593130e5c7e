"""apk-tools 3's package format (OpenWrt 25's .apk), written without apk-tools.

An .apk is an ADB file: the magic `ADB.`, the schema (`pckg`), then blocks, each a 32-bit
little-endian word (two bits of type, thirty of size, the word included) and its payload,
padded to 8 bytes. The ADB block holds the package as a tree of values; the DATA blocks hold
the files' contents, each led by the 1-based index of its directory in the package's
`paths` and of the file in that directory's `files`. The whole file is deflated behind the
magic `ADBd`. (apk-tools' doc/apk-v3.5.scd, src/adb.h and src/apk_adb.h; checked against
the real `apk adbdump`, `apk verify` and `apk add`: see tests/openwrt/procd_test.py.)

A value is a 32-bit word: a type in the high 4 bits and either the value itself (an int
under 2^28, null) or the offset in the ADB payload where it is stored (longer ints, blobs,
objects, arrays). An object or array is a run of 32-bit slots whose first says how many
there are (itself included); an object's slots are its schema's fields in order, trailing
nulls left out. As apk's own writer does: blobs shorter than 256 bytes take a one-byte
length, ints are stored from 2^28, arrays of paths and files are sorted, and the package's
unique id is the first 20 bytes of the SHA-256 of the ADB payload with the id zeroed.
"""

import hashlib
import os
import struct
import subprocess
import zlib

T_INT, T_INT32, T_INT64 = 0x10000000, 0x20000000, 0x30000000
T_BLOB8, T_BLOB16, T_BLOB32 = 0x80000000, 0x90000000, 0xA0000000
T_ARRAY, T_OBJECT = 0xD0000000, 0xE0000000
NULL = 0
BLOCK_ADB, BLOCK_DATA = 0, 2

# The fields of apk_adb.h's schemas used here (1-based slot numbers).
PI_NAME, PI_VERSION, PI_HASHES, PI_DESCRIPTION, PI_ARCH, PI_LICENSE, PI_ORIGIN = 1, 2, 3, 4, 5, 6, 7
PI_MAINTAINER, PI_URL, PI_INSTALLED_SIZE, PI_FILE_SIZE, PI_PROVIDER_PRIORITY = 8, 9, 12, 13, 14
PI_DEPENDS, PI_PROVIDES = 15, 16
DEP_NAME, DEP_VERSION = 1, 2
ACL_MODE, ACL_USER, ACL_GROUP = 1, 2, 3
FI_NAME, FI_ACL, FI_SIZE, FI_MTIME, FI_HASHES = 1, 2, 3, 4, 5
DI_NAME, DI_ACL, DI_FILES = 1, 2, 3
SCRIPTS = {"pre-install": 2, "post-install": 3, "pre-deinstall": 4, "post-deinstall": 5,
           "pre-upgrade": 6, "post-upgrade": 7}
PKG_PKGINFO, PKG_PATHS, PKG_SCRIPTS = 1, 2, 3
NDX_DESCRIPTION, NDX_PACKAGES = 1, 2
SCHEMA_PACKAGE, SCHEMA_INDEX = b"pckg", b"indx"
BLOCK_SIG = 1
DIGEST_SHA512 = 4


class Adb:
    """An ADB payload being written: the header (compat 0, version 0, the root value),
    then values, each written once (equal blobs share one place, as apk's writer does)."""

    def __init__(self):
        self.buf = bytearray(8)
        self.blobs = {}

    def _put(self, data, align):
        while len(self.buf) % align:
            self.buf.append(0)
        off = len(self.buf)
        self.buf += data
        return off

    def blob(self, b, share=True):
        if not b:
            return NULL
        if share and b in self.blobs:
            return self.blobs[b]
        if len(b) < 0x100:
            v = T_BLOB8 | self._put(struct.pack("<B", len(b)) + b, 1)
        elif len(b) < 0x10000:
            v = T_BLOB16 | self._put(struct.pack("<H", len(b)) + b, 2)
        else:
            v = T_BLOB32 | self._put(struct.pack("<I", len(b)) + b, 4)
        if share:
            self.blobs[b] = v
        return v

    def int(self, n):
        if n < 0x10000000:
            return T_INT | n
        if n < 0x100000000:
            return T_INT32 | self._put(struct.pack("<I", n), 4)
        return T_INT64 | self._put(struct.pack("<Q", n), 4)

    def _slots(self, kind, slots):
        while slots and slots[-1] == NULL:
            slots = slots[:-1]
        if not slots:
            return NULL
        return kind | self._put(struct.pack(f"<{len(slots) + 1}I", len(slots) + 1, *slots), 4)

    def obj(self, fields):
        """An object from {slot number: value}."""
        n = max(fields) if fields else 0
        return self._slots(T_OBJECT, [fields.get(i, NULL) for i in range(1, n + 1)])

    def arr(self, values):
        return self._slots(T_ARRAY, list(values))

    def root(self, v):
        struct.pack_into("<BBHI", self.buf, 0, 0, 0, 0, v)


def block(kind, payload):
    raw = struct.pack("<I", (kind << 30) | (4 + len(payload))) + payload
    return raw + b"\0" * (-len(raw) % 8)


def package(info, files, scripts, when):
    """The .apk (bytes). `info`: name, version, description, arch, license, origin,
    maintainer, url, depends (names), provides (list of "name=version"),
    provider_priority. `files`:
    (path, mode, bytes or None for a directory), root's; every directory above a file must
    be listed. `scripts`: {"post-install": bytes, ...}."""
    db = Adb()
    root_acl = {}

    def acl(mode):
        if mode not in root_acl:
            root_acl[mode] = db.obj({ACL_MODE: db.int(mode), ACL_USER: db.blob(b"root"),
                                     ACL_GROUP: db.blob(b"root")})
        return root_acl[mode]

    dirs = {"": 0o755}
    dirs.update({p: m for p, m, d in files if d is None})
    by_dir = {}
    for p, m, d in files:
        if d is not None:
            parent, _, name = p.rpartition("/")
            by_dir.setdefault(parent, []).append((name, m, d))
    paths, data_blocks, size = [], [], 0
    for i, dname in enumerate(sorted(dirs), start=1):
        entries = []
        for j, (name, mode, data) in enumerate(sorted(by_dir.get(dname, [])), start=1):
            entries.append(db.obj({
                FI_NAME: db.blob(name.encode()), FI_ACL: acl(mode),
                FI_SIZE: db.int(len(data)), FI_MTIME: db.int(when),
                FI_HASHES: db.blob(hashlib.sha256(data).digest())}))
            data_blocks.append(block(BLOCK_DATA, struct.pack("<II", i, j) + data))
            size += len(data)
        paths.append(db.obj({DI_NAME: db.blob(dname.encode()), DI_ACL: acl(dirs[dname]),
                             DI_FILES: db.arr(entries)}))
    # The unique id: written zeroed (not shared with an equal blob), filled in below.
    uid = db.blob(b"\0" * 20, share=False)
    uid_at = (uid & 0x0FFFFFFF) + 1

    info["installed_size"] = max(size, 1)
    pkginfo = pkginfo_obj(db, info, uid)
    script_obj = db.obj({SCRIPTS[k]: db.blob(v) for k, v in scripts.items()})
    db.root(db.obj({PKG_PKGINFO: pkginfo, PKG_PATHS: db.arr(paths), PKG_SCRIPTS: script_obj}))
    info["uid"] = hashlib.sha256(bytes(db.buf)).digest()[:20]
    db.buf[uid_at:uid_at + 20] = info["uid"]
    # What an index says of it (apk mkndx's default): the SHA-256 of its ADB payload.
    info["identity"] = hashlib.sha256(bytes(db.buf)).digest()
    raw = b"ADB." + SCHEMA_PACKAGE + block(BLOCK_ADB, bytes(db.buf)) + b"".join(data_blocks)
    z = zlib.compressobj(9, zlib.DEFLATED, -15)
    return b"ADBd" + z.compress(raw) + z.flush()


def pkginfo_obj(db, info, uid, file_size=0):
    """A package's info object (a package's own, or an index's entry for it)."""
    def dep(spec):
        name, _, ver = spec.partition("=")
        return db.obj({DEP_NAME: db.blob(name.encode()),
                       DEP_VERSION: db.blob(ver.encode())})

    text = lambda k: db.blob(info.get(k, "").encode())
    return db.obj({
        PI_NAME: text("name"), PI_VERSION: text("version"), PI_HASHES: uid,
        PI_DESCRIPTION: text("description"), PI_ARCH: text("arch"),
        PI_LICENSE: text("license"), PI_ORIGIN: text("origin"),
        PI_MAINTAINER: text("maintainer"), PI_URL: text("url"),
        PI_INSTALLED_SIZE: db.int(info["installed_size"]),
        PI_FILE_SIZE: db.int(file_size) if file_size else NULL,
        PI_PROVIDER_PRIORITY: db.int(info["provider_priority"])
        if info.get("provider_priority") else NULL,
        PI_DEPENDS: db.arr(dep(d) for d in info.get("depends", [])),
        PI_PROVIDES: db.arr(dep(p) for p in info.get("provides", [])),
    })


def index(entries, description, key):
    """A signed repository index (packages.adb) of `entries`: (info, file size) each, the
    info as package() left it, sorted by name as apk sorts them; each entry's hash is the
    package's identity (the SHA-256 of its ADB payload), which apk checks a package from
    the feed against.
    `key` (a Key) signs the SHA-512 of the ADB payload as apk does: the message is the
    schema, the signature header (version 0, SHA-512, the key's id) and that digest."""
    db = Adb()
    pkgs = [pkginfo_obj(db, info, db.blob(info["identity"], share=False), size)
            for info, size in sorted(entries, key=lambda e: (e[0]["name"], e[0]["version"]))]
    db.root(db.obj({NDX_DESCRIPTION: db.blob(description.encode()),
                    NDX_PACKAGES: db.arr(pkgs)}))
    payload = bytes(db.buf)
    md = hashlib.sha512(payload).digest()
    head = struct.pack("<BB", 0, DIGEST_SHA512) + key.id
    raw = (b"ADB." + SCHEMA_INDEX + block(BLOCK_ADB, payload) +
           block(BLOCK_SIG, head + key.sign(SCHEMA_INDEX + head + md)))
    z = zlib.compressobj(9, zlib.DEFLATED, -15)
    return b"ADBd" + z.compress(raw) + z.flush()


class Key:
    """An ECDSA P-256 private key (PEM), as OpenWrt's apk keys are, used through the
    openssl command: its id for apk is the first 16 bytes of the SHA-512 of its public
    point (OpenSSL's i2d_PublicKey, what apk hashes)."""

    def __init__(self, path):
        self.path = path
        der = subprocess.run(["openssl", "pkey", "-in", path, "-pubout", "-outform", "DER"],
                             check=True, capture_output=True).stdout
        if len(der) != 91:
            raise ValueError(f"{path}: not an ECDSA P-256 key")
        self.id = hashlib.sha512(der[-65:]).digest()[:16]
        self.public_pem = subprocess.run(["openssl", "pkey", "-in", path, "-pubout"],
                                         check=True, capture_output=True).stdout

    @staticmethod
    def make(path):
        subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-out", path], check=True,
                       capture_output=True)
        os.chmod(path, 0o600)

    def sign(self, message):
        return subprocess.run(["openssl", "dgst", "-sha512", "-sign", self.path, "-binary"],
                              input=message, check=True, capture_output=True).stdout


def read(apk):
    """An .apk's parts, for the structure checks: (schema, ADB payload, [(path index,
    file index, bytes)]). Raises ValueError when it is not one."""
    if apk[:4] == b"ADBd":
        apk = zlib.decompressobj(-15).decompress(apk[4:])
    if apk[:4] != b"ADB.":
        raise ValueError("not an ADB file")
    schema, pos, adb, data = apk[4:8], 8, None, []
    while pos < len(apk):
        (word,) = struct.unpack_from("<I", apk, pos)
        kind, size = word >> 30, word & 0x3FFFFFFF
        payload = apk[pos + 4:pos + size]
        if kind == BLOCK_ADB:
            adb = payload
        elif kind == BLOCK_DATA:
            i, j = struct.unpack_from("<II", payload)
            data.append((i, j, payload[8:]))
        pos += size + (-size % 8)
    return schema, adb, data


def value(adb, v):
    """A value of an ADB payload: int, bytes, None, or a list of values for an object or
    array (slot 1 first)."""
    t, x = v & 0xF0000000, v & 0x0FFFFFFF
    if v == NULL:
        return None
    if t == T_INT:
        return x
    if t == T_INT32:
        return struct.unpack_from("<I", adb, x)[0]
    if t == T_BLOB8:
        return adb[x + 1:x + 1 + adb[x]]
    if t == T_BLOB16:
        (n,) = struct.unpack_from("<H", adb, x)
        return adb[x + 2:x + 2 + n]
    if t in (T_OBJECT, T_ARRAY):
        (n,) = struct.unpack_from("<I", adb, x)
        return [value(adb, s) for s in struct.unpack_from(f"<{n - 1}I", adb, x + 4)]
    raise ValueError(f"value type {t:#x}")


def root(adb):
    return value(adb, struct.unpack_from("<I", adb, 4)[0])
