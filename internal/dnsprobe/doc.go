// Package dnsprobe asks a DNS server one question and reports exactly what came back: the response code, the
// addresses or names, and the round-trip time. It speaks UDP and TCP framing over any net.Conn, so a question can
// travel through an SSH tunnel (remote.Executor.DialContext) to a server that only a cluster host can reach.
//
// berth's DNS phase and `berth status` use it to check every DNS host, the DNS pods' health sidecar uses it to
// probe dnsmasq and the backend, and the DNS load generator of the benchmarks uses it to send queries.
package dnsprobe
