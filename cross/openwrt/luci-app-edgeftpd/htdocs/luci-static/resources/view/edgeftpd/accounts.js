'use strict';
'require view';
'require form';
'require rpc';
'require edgeftpd';

// luci-app-edgeftpd: the accounts, one `user` section of /etc/config/edgeftpd each. A
// password typed here is hashed on the router (`luci.edgeftpd hash_password`, which runs
// `edgeftpd --hash-password`) and only its $6$ hash is stored; the field never shows one.

var callHash = rpc.declare({
	object: 'luci.edgeftpd',
	method: 'hash_password',
	params: [ 'password' ],
	expect: { hash: '' }
});

return view.extend({
	render: function() {
		var m, s, o;

		m = new form.Map('edgeftpd', _('FTP accounts'),
			_('Each account logs in with its name and password and sees its home folder, with the rights given here.'));

		s = m.section(form.TypedSection, 'user', _('Accounts'));
		s.anonymous = true;
		s.addremove = true;
		s.addbtntitle = _('Add account');

		o = s.option(form.Flag, 'enabled', _('Enabled'));
		o.default = '1';

		o = s.option(form.Value, 'name', _('Name'));
		o.datatype = 'and(minlength(1),maxlength(32))';
		o.rmempty = false;

		o = s.option(form.Value, 'password', _('New password'),
			_('Stored only as a hash made on the router. Empty: the password stays as it is.'));
		o.password = true;
		o.cfgvalue = function() { return ''; };
		o.remove = function() { };
		o.write = function(section_id, value) {
			var map = this.map;
			return callHash(value).then(function(hash) {
				if (!/^\$6\$/.test(hash))
					throw new TypeError(_('The router could not hash the password'));
				map.data.set('edgeftpd', section_id, 'password', hash);
			});
		};

		o = s.option(form.Value, 'home', _('Home folder'));
		o.placeholder = '/mnt/sda1/camera';
		o.rmempty = false;

		o = s.option(form.ListValue, 'perm', _('Rights'));
		o.value('ro', _('read-only'));
		o.value('rw', _('read and write'));
		o.value('upload', _('upload only'));
		o.value('none', _('none (folders below decide)'));

		o = s.option(form.DynamicList, 'folder', _('Folder rights'),
			_('A folder of the home and its rights, for example <code>/today=ro</code>.'));

		o = s.option(form.Value, 'quota', _('Quota'), _('Bytes, K, M or G suffix.'));
		o = s.option(form.Value, 'files', _('Most files'));
		o.datatype = 'uinteger';
		o = s.option(form.Value, 'sessions', _('Sessions at once'));
		o.datatype = 'uinteger';
		o = s.option(form.Value, 'up', _('Upload rate'), _('Bytes per second, K or M suffix.'));
		o = s.option(form.Value, 'down', _('Download rate'), _('Bytes per second, K or M suffix.'));

		return m.render();
	},

	handleSaveApply: function(ev, mode) {
		return edgeftpd.saveApply(this, ev, mode);
	}
});
