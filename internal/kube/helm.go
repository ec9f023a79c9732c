package kube

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/storage/driver"
)

// MaxHistory is how many revisions of a release Helm keeps.
const MaxHistory = 10

// Release is one Helm release of a chart berth embeds, installed and upgraded with the Helm SDK (no helm binary,
// no repository). Its history is kept as Secrets in its namespace.
type Release struct {
	name      string
	namespace string
	c         *Client
	cfg       *action.Configuration
	log       *slog.Logger
}

// Release prepares the Helm actions of a release. It does not contact the cluster; the API's groups are
// discovered once, on the first action.
func (c *Client) Release(name, namespace string) (*Release, error) {
	cfg := new(action.Configuration)
	debug := func(format string, v ...any) { c.log.Debug("helm: " + fmt.Sprintf(format, v...)) }
	getter := &tunnelGetter{config: c.config, namespace: namespace}
	if err := cfg.Init(getter, namespace, "secret", debug); err != nil {
		return nil, fmt.Errorf("set up helm for release %s: %w", name, err)
	}
	cfg.Releases.MaxHistory = MaxHistory
	return &Release{name: name, namespace: namespace, c: c, cfg: cfg, log: c.log}, nil
}

// Name returns the release's name.
func (r *Release) Name() string { return r.name }

// Namespace returns the release's namespace.
func (r *Release) Namespace() string { return r.namespace }

// Last returns the latest revision of the release, or nil when it was never installed.
func (r *Release) Last() (*release.Release, error) {
	last, err := r.cfg.Releases.Last(r.name)
	if errors.Is(err, driver.ErrReleaseNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read helm release %s: %w", r.name, err)
	}
	return last, nil
}

// Apply installs the release, or upgrades it when it exists, and returns the new revision. Objects it finds
// already there are adopted (berth owns them by name). A revision an interrupted run left pending is marked
// failed first (see nextStep). timeout bounds Helm's hooks; waiting for the release's workloads is the caller's
// business (RolloutComplete).
func (r *Release) Apply(ctx context.Context, ch *chart.Chart, values map[string]any, timeout time.Duration) (*release.Release, error) {
	last, err := r.Last()
	if err != nil {
		return nil, err
	}
	step := nextStep(last)
	if step.clear {
		if err := r.clear(last); err != nil {
			return nil, err
		}
	}
	if step.install {
		in := action.NewInstall(r.cfg)
		in.ReleaseName, in.Namespace, in.Timeout = r.name, r.namespace, timeout
		in.TakeOwnership, in.Replace = true, step.replace
		rel, err := in.RunWithContext(ctx, ch, values)
		if err != nil {
			return nil, fmt.Errorf("helm install %s: %w", r.name, err)
		}
		return rel, nil
	}
	up := action.NewUpgrade(r.cfg)
	up.Namespace, up.Timeout, up.MaxHistory, up.TakeOwnership = r.namespace, timeout, MaxHistory, true
	rel, err := up.RunWithContext(ctx, r.name, ch, values)
	if err != nil {
		return nil, fmt.Errorf("helm upgrade %s: %w", r.name, err)
	}
	return rel, nil
}

// Rollback makes a new revision of the release from an earlier one: revision, or with 0 the one before the
// latest. Helm's rollback takes no context: ctx is checked before it starts, and timeout bounds its hooks.
func (r *Release) Rollback(ctx context.Context, revision int, timeout time.Duration) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("helm rollback %s: %w", r.name, err)
	}
	last, err := r.Last()
	if err != nil {
		return err
	}
	if last == nil {
		return fmt.Errorf("helm rollback %s: the release was never installed", r.name)
	}
	if nextStep(last).clear {
		if err := r.clear(last); err != nil {
			return err
		}
	}
	rb := action.NewRollback(r.cfg)
	rb.Version, rb.Timeout, rb.MaxHistory = revision, timeout, MaxHistory
	if err := rb.Run(r.name); err != nil {
		return fmt.Errorf("helm rollback %s to revision %d: %w", r.name, revision, err)
	}
	return nil
}

// clear marks a revision an interrupted run left behind as failed. Helm refuses to upgrade over a pending
// revision; berth holds the cluster's lock, so no other run is working on it.
func (r *Release) clear(last *release.Release) error {
	was := last.Info.Status
	last.Info.Status = release.StatusFailed
	last.Info.Description = fmt.Sprintf("interrupted while %s; marked failed by berth", was)
	if err := r.cfg.Releases.Update(last); err != nil {
		return fmt.Errorf("mark the interrupted revision %d of %s failed: %w", last.Version, r.name, err)
	}
	r.log.Info("helm: revision left by an interrupted run marked failed", "release", r.name,
		"revision", last.Version, "was", was)
	return nil
}
