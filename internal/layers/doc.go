// Package layers holds the test that keeps berth's imports pointing down the package table of the design: a
// package imports only the berth packages its row allows, leaves import none, and the wizard never reaches the
// installer. It has no code of its own.
package layers
