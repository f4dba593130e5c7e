"""The one vsftpd configuration of the benchmarks and the boards' power cuts (bench/run.py,
board/bench.py, board/powercut.py): each takes these settings and overrides only where it
runs (addresses, ports, folders).

Quirks (vsftpd 3.0.3, Debian bookworm), run as root from an unpacked .deb:
 * seccomp_sandbox=YES (the default) answers every RETR/STOR with "500 OOPS:" on this
   kernel/glibc (a syscall not in its filter): NO.
 * isolate_network=YES (its default) clones a network namespace per session, which costs
   more than the session itself on a small CPU: NO (bench/run.py can turn it back on).
 * background=NO keeps it in the foreground so the caller owns it; listen=YES is the
   standalone mode (no inetd); listen_ipv6=NO, or it binds [::] instead of listen_address.
 * secure_chroot_dir must exist, be empty and not writable; nopriv_user and ftp_username
   must exist.
 * anon_root must not be writable by ftp (it refuses "writable root inside chroot()"):
   the served root is root-owned 0755, uploads go to folders below it.
 * max_clients/max_per_ip 0: unlimited (the servers are compared, not their limits).
 * xferlog off: it logs nothing else by default.
 * FTPS optional (plain clients as before), sessions reused on data connections (its
   default require_ssl_reuse=YES, as edgeftpd's --tls-reuse required). ssl_ciphers: its
   default TLS 1.2 list is DES-CBC3-SHA alone, which no current client offers (TLS 1.3's
   suites are not affected). ssl_tlsv1_2 is unknown to 3.0.3 and makes it exit 2 silently.
"""


def settings(anon_root, cert, key, **overrides):
    """The settings as a dict (written one `key=value` a line), `overrides` last."""
    conf = dict(
        listen="YES", listen_ipv6="NO", background="NO", listen_port=21,
        anonymous_enable="YES", local_enable="NO", no_anon_password="YES",
        anon_root=anon_root, ftp_username="ftp", nopriv_user="nobody",
        secure_chroot_dir="/var/run/vsftpd/empty",
        write_enable="YES", anon_upload_enable="YES", anon_mkdir_write_enable="YES",
        anon_other_write_enable="YES", pasv_enable="YES",
        max_clients=0, max_per_ip=0, seccomp_sandbox="NO", isolate_network="NO",
        xferlog_enable="NO", dirmessage_enable="NO", idle_session_timeout=3600,
        ssl_enable="YES", rsa_cert_file=cert, rsa_private_key_file=key, ssl_ciphers="HIGH",
        allow_anon_ssl="YES", force_anon_logins_ssl="NO", force_anon_data_ssl="NO")
    conf.update(overrides)
    return conf


def text(conf):
    """The settings as vsftpd.conf's lines."""
    return "".join(f"{k}={v}\n" for k, v in conf.items())
