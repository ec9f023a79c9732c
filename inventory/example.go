package inventory

import _ "embed"

// Example is a commented inventory with every section: three control planes, two workers, two registry hosts
// and all four network planes. `berth inventory example` prints it.
//
//go:embed example.yaml
var Example []byte
