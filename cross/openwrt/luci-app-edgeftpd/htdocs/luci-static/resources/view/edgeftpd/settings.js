'use strict';
'require view';
'require form';
'require edgeftpd';

// luci-app-edgeftpd: the server's settings, the `main` section of /etc/config/edgeftpd
// (each option one of the server's long flags, `_` for `-`). Save & Apply: edgeftpd.js.

return view.extend({
	render: function() {
		var m, s, o;

		m = new form.Map('edgeftpd', _('FTP server'),
			_('edgeftpd serves the router\'s USB disks over FTP and FTPS. Every upload is on the disk before the client is told it is done.'));

		s = m.section(form.NamedSection, 'main', 'global');
		s.addremove = false;
		s.tab('general', _('General'));
		s.tab('anonymous', _('Anonymous access'));
		s.tab('network', _('Network'));
		s.tab('ftps', _('FTPS'));
		s.tab('limits', _('Limits and bans'));
		s.tab('logging', _('Logging'));

		o = s.taboption('general', form.Flag, 'enabled', _('Enabled'));
		o.rmempty = false;

		o = s.taboption('general', form.Value, 'run_as', _('Serve as user'),
			_('The served folders must be readable by this user, and writable where accounts upload. Empty: root.'));
		o.placeholder = 'ftp';

		o = s.taboption('general', form.Flag, 'jail', _('procd jail'),
			_('Where procd-ujail is installed: the server sees only its own files and the served folders.'));
		o.default = '1';
		o.rmempty = false;

		o = s.taboption('general', form.Flag, 'no_syscall_filter', _('Without the system call filter'),
			_('Sessions normally run under a seccomp filter that allows only the calls the server makes. Turn it off only if something fails with "Function not implemented" after a kernel update.'));
		o.default = '0';

		o = s.taboption('general', form.Value, 'min_free', _('Free space to keep'),
			_('Uploads must leave this much free on the disk: a size (500M) or a percentage (5%).'));
		o.placeholder = '5%';

		o = s.taboption('anonymous', form.Flag, 'anonymous', _('Anonymous users'),
			_('Anyone may log in as anonymous or ftp.'));
		o.rmempty = false;

		o = s.taboption('anonymous', form.Value, 'root', _('Folder'),
			_('What anonymous users see. Empty: the first USB disk mounted under /mnt.'));
		o.placeholder = '/mnt/sda1';
		o.depends('anonymous', '1');

		o = s.taboption('anonymous', form.Value, 'anon_perm', _('Rights'),
			_('Read-only: <code>ro</code>. A drop box where they may only upload: <code>ro,/incoming=upload</code>.'));
		o.placeholder = 'ro';
		o.depends('anonymous', '1');

		o = s.taboption('network', form.DynamicList, 'listen', _('Listen on'),
			_('Address and port, for example <code>[::]:21</code>.'));

		o = s.taboption('network', form.Value, 'pasv_ports', _('Passive ports'),
			_('The range the firewall opens for data connections, for example <code>50000-50099</code>.'));

		o = s.taboption('network', form.Value, 'pasv_address', _('NAT address'),
			_('The public address or host name (DDNS) told to clients outside the LAN.'));

		o = s.taboption('network', form.Flag, 'wan_access', _('Open on the WAN'),
			_('Open the FTP port and the passive ports to the internet.'));
		o.rmempty = false;

		o = s.taboption('network', form.Flag, 'mdns', _('Announce on the LAN'),
			_('Publish the server with mDNS (umdns).'));
		o.default = '1';
		o.rmempty = false;

		o = s.taboption('ftps', form.Value, 'tls_cert', _('Certificate'),
			_('PEM certificate chain. Made (self-signed) at the first start when missing.'));
		o.placeholder = '/etc/edgeftpd/ftps.crt';

		o = s.taboption('ftps', form.Value, 'tls_key', _('Private key'));
		o.placeholder = '/etc/edgeftpd/ftps.key';

		o = s.taboption('ftps', form.ListValue, 'tls', _('FTPS'));
		o.value('', _('optional (with a certificate)'));
		o.value('optional', _('optional'));
		o.value('required', _('required'));
		o.value('off', _('off'));

		o = s.taboption('ftps', form.Value, 'tls_reuse', _('TLS session reuse'),
			_('Whether data connections must resume the control connection\'s TLS session.'));

		o = s.taboption('limits', form.Value, 'max_clients', _('Sessions at once'));
		o.datatype = 'uinteger';
		o = s.taboption('limits', form.Value, 'max_per_ip', _('Sessions per address'));
		o.datatype = 'uinteger';
		o = s.taboption('limits', form.Value, 'ban_after', _('Ban after failed logins'));
		o.datatype = 'uinteger';
		o = s.taboption('limits', form.Value, 'ban_time', _('Ban for (seconds)'));
		o.datatype = 'uinteger';
		o = s.taboption('limits', form.Value, 'max_rate', _('Rate per session'),
			_('Bytes per second, K or M suffix.'));

		o = s.taboption('logging', form.Value, 'xferlog', _('Transfer log'),
			_('A file in the xferlog format of vsftpd, for example <code>/var/log/xferlog</code>.'));

		return m.render();
	},

	handleSaveApply: function(ev, mode) {
		return edgeftpd.saveApply(this, ev, mode);
	}
});
