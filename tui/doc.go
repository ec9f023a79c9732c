// Package tui is berth's terminal user interface: the wizard that builds an inventory page by page, and the live
// views of preflight checks and of an install fed by the phase runner's events.
//
// The wizard edits an inventory.Inventory in place, so an inventory loaded with `berth wizard -i FILE` keeps every
// field, including those no page shows. Each page binds its fields to the inventory; inventory.Validate runs after
// every change and each problem is shown on the field its Path names, so the operator fixes it where it is.
//
// The package does no I/O of its own. Everything that touches the outside world comes in through small interfaces
// (Discoverer, Preflighter, Installer, Files) that the berth command wires to the engine; tests use scripted ones.
// Long work (SSH probes, preflight, the install) runs in tea.Cmds, never in Update.
package tui
