package kube

import "helm.sh/helm/v3/pkg/release"

// helmStep is what Release.Apply does, decided from the release's latest revision.
type helmStep struct {
	clear   bool // first mark the latest revision failed: an interrupted run left it unfinished
	install bool // install rather than upgrade
	replace bool // install over the kept history of an uninstalled release
}

// nextStep decides how to bring a release to a new revision from its latest one (nil: never installed).
//
// Helm upgrades over a deployed, failed or superseded latest revision; when no revision was ever deployed (an
// install that failed) it upgrades from the failed one. It refuses to upgrade over a pending revision: a run
// killed mid-install, mid-upgrade or mid-rollback leaves one, and so does one killed mid-uninstall
// ("uninstalling"), which Helm would then treat as having no deployed revision. Such a revision is marked failed
// and the release upgraded: for a pending install, the only revision, that is an upgrade from a failed install,
// which Helm accepts and which adopts whatever the interrupted install created. An uninstalled release whose
// history was kept is installed again over it.
func nextStep(last *release.Release) helmStep {
	if last == nil || last.Info == nil {
		return helmStep{install: true}
	}
	switch last.Info.Status {
	case release.StatusDeployed, release.StatusFailed, release.StatusSuperseded:
		return helmStep{}
	case release.StatusUninstalled:
		return helmStep{install: true, replace: true}
	default: // pending-install, pending-upgrade, pending-rollback, uninstalling, unknown
		return helmStep{clear: true}
	}
}
