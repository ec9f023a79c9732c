package remote

// Plain `systemctl enable` and `disable` are slow on the nodes berth installs, for two reasons. systemctl mirrors
// the change into the SysV rc links of every package that also ships an init script (dnsmasq, haproxy,
// keepalived) by running update-rc.d, a Perl script, and insserv; and after the change systemd reloads every unit it
// knows. Together that took 2 s on an idle lab host and 8–18 s on hosts busy starting pods. berth's hosts boot
// with systemd (preflight checks it), which never reads the rc links, and enablement is only a set of symlinks
// read at boot, so these commands skip both (SYSTEMCTL_SKIP_SYSV, --no-reload). EnableUnits reloads only where
// systemd reports that a unit's file changed on disk since it loaded it (NeedDaemonReload). systemd does not
// notice a drop-in added in a new directory that way: a caller that writes unit files or drop-ins reloads systemd
// itself (the runtime phase does).

const noSysV = "SYSTEMCTL_SKIP_SYSV=1 "

// EnableUnits returns a shell command that enables systemd units, reloading systemd first only where one of
// them needs it. A masked unit stays masked and the command fails: unmasking is a deliberate change (UnmaskUnits).
func EnableUnits(units ...string) string {
	return ReloadIfNeeded(units...) + " && " + noSysV + "systemctl enable --no-reload -q " + QuoteAll(units...)
}

// DisableUnits returns a shell command that disables systemd units without reloading systemd. It does not stop them.
func DisableUnits(units ...string) string {
	return noSysV + "systemctl disable --no-reload -q " + QuoteAll(units...)
}

// UnmaskUnits returns a shell command that unmasks systemd units and reloads systemd, which must then load the
// real unit file in place of the mask.
func UnmaskUnits(units ...string) string {
	return "systemctl unmask -q " + QuoteAll(units...)
}

// ReloadIfNeeded returns a shell command that runs `systemctl daemon-reload` when systemd reports that one of the
// units' files changed on disk since it loaded them, and does nothing otherwise.
func ReloadIfNeeded(units ...string) string {
	return "if systemctl show -p NeedDaemonReload " + QuoteAll(units...) +
		" | grep -qx 'NeedDaemonReload=yes'; then systemctl daemon-reload; fi"
}

// UnitFileState returns a shell command that prints one word: the unit's enablement as `systemctl is-enabled`
// names it (enabled, disabled, masked, static, ...), or not-found where there is no such unit.
func UnitFileState(unit string) string {
	return "{ systemctl is-enabled " + Quote(unit) + " 2>/dev/null | grep . || echo not-found; }"
}
