#!/bin/sh
# Turns a debootstrap root file system into a berth lab host image. Runs once, as root, in a container without a
# network; the result is committed as the image. Part of the image recipe: editing this file rebuilds the image.
set -eu

# Files shipped next to this script (units, helper scripts) were copied to /tmp/berth-image by the builder.
cp /tmp/berth-image/berth-lab-init /tmp/berth-image/berth-lab-prepare /usr/local/sbin/
chmod 0755 /usr/local/sbin/berth-lab-init /usr/local/sbin/berth-lab-prepare
cp /tmp/berth-image/berth-lab-prepare.service /tmp/berth-image/berth-lab-hostkeys.service /etc/systemd/system/
mkdir -p /etc/berth-lab
chmod 0755 /etc/berth-lab

# Identity: every host generates its own machine-id and SSH host keys at first boot.
: >/etc/machine-id
rm -f /var/lib/dbus/machine-id
rm -f /etc/ssh/ssh_host_*

# The operator account berth logs in with: key only, passwordless sudo.
useradd --create-home --shell /bin/bash --uid 1000 --user-group berth
passwd --lock berth >/dev/null
install -d -m 0700 -o berth -g berth /home/berth/.ssh
echo 'berth ALL=(ALL:ALL) NOPASSWD: ALL' >/etc/sudoers.d/berth
chmod 0440 /etc/sudoers.d/berth
visudo -c -q -f /etc/sudoers.d/berth

cat >/etc/ssh/sshd_config.d/10-berth-lab.conf <<'EOF'
# berth lab host: keys only, no root login, no reverse lookups (there is no DNS).
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin no
UseDNS no
EOF

# Units that have no job in a container: consoles, udev, kernel file systems Docker already set up, and periodic
# maintenance that would only add noise to tests.
systemctl mask \
	getty.target console-getty.service getty-static.service \
	systemd-udevd.service systemd-udevd-control.socket systemd-udevd-kernel.socket systemd-udev-trigger.service \
	systemd-udev-settle.service \
	sys-kernel-config.mount sys-kernel-debug.mount sys-kernel-tracing.mount sys-fs-fuse-connections.mount \
	proc-sys-fs-binfmt_misc.automount systemd-binfmt.service \
	dev-hugepages.mount systemd-remount-fs.service systemd-firstboot.service systemd-pstore.service \
	systemd-journald-audit.socket kmod-static-nodes.service systemd-modules-load.service modprobe@.service \
	cryptsetup.target integritysetup.target veritysetup.target \
	apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer e2scrub_all.timer e2scrub_reap.service fstrim.timer \
	>/dev/null 2>&1
systemctl enable berth-lab-prepare.service berth-lab-hostkeys.service ssh.service >/dev/null 2>&1
systemctl set-default multi-user.target >/dev/null 2>&1
# journald must not read the machine's kernel log (every host would show every other host's messages).
mkdir -p /etc/systemd/journald.conf.d
printf '[Journal]\nReadKMsg=no\nStorage=persistent\nSystemMaxUse=64M\n' >/etc/systemd/journald.conf.d/berth-lab.conf

# Slim the image: package lists and caches are not needed offline.
apt-get clean
rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/*.log /tmp/berth-image
