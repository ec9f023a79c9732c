#!/bin/sh
# berth: give the kube-dns Service's address to this node's DNS cache (up), or give it back to the Service (down).
# Queries to the address on port 53 are left untracked, so kube-proxy's rules do not send them elsewhere; the
# address lives on the loopback interface (labelled {{ .Label }}), so the kernel delivers them to the cache.
set -u
ip={{ .ServiceIP }}
label={{ .Label }}
rules() {
	for p in udp tcp; do
		echo "raw PREROUTING -d $ip/32 -p $p --dport 53 -m comment --comment berth-dns-cache -j NOTRACK"
		echo "raw OUTPUT -d $ip/32 -p $p --dport 53 -m comment --comment berth-dns-cache -j NOTRACK"
		echo "raw OUTPUT -s $ip/32 -p $p --sport 53 -m comment --comment berth-dns-cache -j NOTRACK"
		echo "filter INPUT -d $ip/32 -p $p --dport 53 -m comment --comment berth-dns-cache -j ACCEPT"
		echo "filter OUTPUT -s $ip/32 -p $p --sport 53 -m comment --comment berth-dns-cache -j ACCEPT"
	done
}
case "${1:-}" in
up)
	ip -4 addr show dev lo | grep -q " $ip/32" || ip addr add "$ip/32" dev lo label "$label" || exit 1
	rules | while read -r table chain rule; do
		# shellcheck disable=SC2086 # the rule's words are its arguments
		iptables -w -t "$table" -C "$chain" $rule 2>/dev/null || iptables -w -t "$table" -I "$chain" 1 $rule || exit 1
	done
	;;
down)
	rules | while read -r table chain rule; do
		# shellcheck disable=SC2086
		while iptables -w -t "$table" -D "$chain" $rule 2>/dev/null; do :; done
	done
	ip addr del "$ip/32" dev lo 2>/dev/null
	exit 0
	;;
*)
	echo "usage: $0 up|down" >&2
	exit 2
	;;
esac
