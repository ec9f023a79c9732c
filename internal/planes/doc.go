// Package planes says where a host's traffic lives: which sockets it listens on, and the network plane
// (management, control, storage, business) of each listener's address, from the inventory's NICs.
//
// It reads what `ss` prints on the host (Command) and never changes anything. A listener bound to every address
// (0.0.0.0, ::) is on every plane at once: berth binds what it runs to one plane's address, and Listener.Wildcard
// with Listener.Berth finds the ones it did not.
package planes
