'use strict';
'require view';
'require rpc';
'require poll';

// luci-app-edgeftpd: whether the server runs, who is logged in now (from where, for how
// long, what each transfers) and its last log lines (`luci.edgeftpd status`, read-only),
// polled every 30 s (each look makes the server log its sessions, as dnsmasq its
// statistics on SIGUSR1, so not more often).

var callStatus = rpc.declare({
	object: 'luci.edgeftpd',
	method: 'status',
	expect: { }
});

function duration(s) {
	if (s < 60)
		return _('%d s').format(s);
	if (s < 3600)
		return _('%d min').format(Math.floor(s / 60));
	return _('%d h %d min').format(Math.floor(s / 3600), Math.floor(s / 60) % 60);
}

function renderStatus(st) {
	var sessions = E('table', { 'class': 'table', 'id': 'edgeftpd-sessions' }, [
		E('tr', { 'class': 'tr table-titles' }, [
			E('th', { 'class': 'th' }, _('User')),
			E('th', { 'class': 'th' }, _('From')),
			E('th', { 'class': 'th' }, _('Logged in for')),
			E('th', { 'class': 'th' }, _('Transferring'))
		])
	]);
	(st.sessions || []).forEach(function(s) {
		sessions.appendChild(E('tr', { 'class': 'tr' }, [
			E('td', { 'class': 'td' }, s.user),
			E('td', { 'class': 'td' }, s.from),
			E('td', { 'class': 'td' }, duration(s.seconds)),
			E('td', { 'class': 'td' }, s.doing == 'idle' ? _('nothing') : s.doing)
		]));
	});
	if (!(st.sessions || []).length)
		sessions.appendChild(E('tr', { 'class': 'tr placeholder' }, [
			E('td', { 'class': 'td' }, E('em', {}, _('Nobody is logged in.')))
		]));
	return E('div', { 'id': 'edgeftpd-status' }, [
		E('table', { 'class': 'table' }, [
			E('tr', { 'class': 'tr' }, [
				E('td', { 'class': 'td left', 'width': '33%' }, _('Server')),
				E('td', { 'class': 'td left', 'id': 'edgeftpd-running' },
					st.running ? _('running (pid %d)').format(st.pid) : _('not running'))
			]),
			E('tr', { 'class': 'tr' }, [
				E('td', { 'class': 'td left' }, _('Listening on')),
				E('td', { 'class': 'td left' }, (st.listen || []).join(' '))
			])
		]),
		E('h3', {}, _('Logged in now')),
		sessions,
		E('h3', {}, _('Last log lines')),
		E('pre', { 'id': 'edgeftpd-log' }, (st.log || []).join('\n'))
	]);
}

return view.extend({
	load: function() {
		return callStatus();
	},

	render: function(st) {
		var node = E('div', {}, [ E('h2', {}, _('FTP server status')), renderStatus(st) ]);
		poll.add(function() {
			return callStatus().then(function(st) {
				var old = node.querySelector('#edgeftpd-status');
				old.parentNode.replaceChild(renderStatus(st), old);
			});
		}, 30);
		return node;
	},

	handleSave: null,
	handleSaveApply: null,
	handleReset: null
});
