// Package airgap moves bundle content to where it is used, with nothing downloaded on the way: it extracts a
// bundle once on the machine running berth, stages to every host the files its roles need (content-addressed, so
// a file a host already has is not sent again), loads images into containerd from the staged archives, and
// converges the configuration files actions render onto hosts. Every copy goes through the one upload path
// (remote PutFiles) and is checked by sha256 on the host.
//
// Stage and Images are phases of the install and of the upgrade: an action lists them with a Content naming the
// bundle and its nodes.
package airgap
