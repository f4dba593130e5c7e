'use strict';
'require view';
'require rpc';
'require poll';

// luci-app-edgeftpd: whether the server runs, the clients connected now, and its last log
// lines (`luci.edgeftpd status`, read-only), polled.

var callStatus = rpc.declare({
	object: 'luci.edgeftpd',
	method: 'status',
	expect: { }
});

function renderStatus(st) {
	var clients = (st.clients || []).length ? st.clients.join(', ') : _('none');
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
			]),
			E('tr', { 'class': 'tr' }, [
				E('td', { 'class': 'td left' }, _('Connected now')),
				E('td', { 'class': 'td left', 'id': 'edgeftpd-clients' }, clients)
			])
		]),
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
		}, 5);
		return node;
	},

	handleSave: null,
	handleSaveApply: null,
	handleReset: null
});
