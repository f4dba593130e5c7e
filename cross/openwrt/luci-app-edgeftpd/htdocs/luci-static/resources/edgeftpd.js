'use strict';
'require baseclass';
'require rpc';
'require ui';

// What luci-app-edgeftpd's views share: Save & Apply asks the server itself to check the
// staged configuration first (`luci.edgeftpd check` runs `edgeftpd --check` on it); a
// refused one is not applied, and the server's message is shown on the page.

var callCheck = rpc.declare({
	object: 'luci.edgeftpd',
	method: 'check',
	expect: { }
});

return baseclass.extend({
	saveApply: function(view, ev, mode) {
		return view.handleSave(ev).then(function() {
			return callCheck();
		}).then(function(res) {
			if (res && res.ok === false) {
				ui.addNotification(null, E('p', { 'class': 'edgeftpd-refused' }, [
					_('Not applied: the server refuses this configuration:'), ' ',
					E('code', {}, res.problem)
				]), 'danger');
				return;
			}
			return ui.changes.apply(mode == '0');
		});
	}
});
