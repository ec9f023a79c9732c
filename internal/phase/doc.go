// Package phase runs an action (install, upgrade, preflight) as an ordered list of phases over many hosts.
//
// A Phase has a Title and a Run method; it may also Prepare (gather facts, decide what to change), say it has
// nothing to do (ShouldRun), describe its changes itself (DryRun) and CleanUp. The Runner runs the phases in order,
// honouring --skip-phases and single-phase runs, fans each phase out over hosts with a concurrency limit and
// collects every host's error, and emits Events that a plain-text reporter (terminals, CI) or the TUI renders.
//
// Every change a phase makes to a host goes through one gate, Session.Wet. In a dry run the gate records what it
// would do, per host, instead of doing it; the printed plan is therefore exactly what a real run does.
//
// A Journal in the cluster's state directory records each phase and host outcome together with digests of the
// inputs (inventory, bundle), so a re-run resumes where the last one stopped and a changed input is detected and
// explained. A Lock in the same directory keeps two runs from acting on one cluster.
package phase
