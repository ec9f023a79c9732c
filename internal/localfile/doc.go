// Package localfile reads the small files an operator points berth at on its own machine: secrets named by
// file: references, signing and verification keys, SSH identity files, known_hosts, inventories.
//
// Such a path may name anything: a FIFO that never delivers a byte, /dev/zero, a directory, a file of many
// gigabytes. Open refuses everything that is not a regular file, judged on the opened descriptor (so the answer
// belongs to the file that is read, not to whatever the path named a moment earlier) and without blocking on a
// FIFO. Read also stops at a size limit the caller chooses. Errors name the path and what is wrong with it, never
// any content.
package localfile
