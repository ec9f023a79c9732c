// Package adhoc runs one shell command on a selection of inventory hosts in parallel (berth exec): output streamed
// line by line with the host's name in front, every host's outcome collected, and the command going through the
// phase runner's gate so that a dry run only lists where it would run.
package adhoc
