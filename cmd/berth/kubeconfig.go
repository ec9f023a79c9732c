package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/berthsh/berth/installer"
	"github.com/berthsh/berth/internal/phase"
)

func newKubeconfigCmd(a *app) *cobra.Command {
	var invPath, stateDir, user, out string
	var groups []string
	expiry := lifetimeFlag{d: installer.DefaultUserExpiry}
	cmd := &cobra.Command{
		Use:   "kubeconfig -i INVENTORY [--out FILE] | --user NAME [--groups G,...] [--expiry D] --out FILE",
		Short: "Write the cluster's admin kubeconfig, or issue a user's, signed by the cluster CA, that expires",
		Long: `Without --user, fetches the cluster's admin kubeconfig from a control plane (kubeadm's admin.conf, its server the
VIP) and writes it to the cluster's state directory (where berth install puts it), or to --out FILE: for the
operators of the cluster, on a machine other than the one that installed it.

With --user NAME, issues a kubeconfig for a person or a robot, signed by the cluster CA and valid for --expiry
(default 24h; 30d, 12h and 90m are all understood; at least 10m, and at most what the cluster's controller manager
signs for, a year with kubeadm's defaults). berth makes the private key on this machine, asks the cluster to sign it
through the CertificateSigningRequest API (signer kubernetes.io/kube-apiserver-client, expirationSeconds),
approves the request itself and deletes it once the certificate is read: the CA's key never leaves the control
planes. The certificate's common name is the user and its organisations are --groups, so RBAC bindings to the user
or a group give it rights; it has none until then:
  kubectl create rolebinding alice-edit --clusterrole=edit --user=alice -n payments
  kubectl create clusterrolebinding sre-view --clusterrole=view --group=sre
A certificate cannot be revoked before it expires: keep --expiry short, and remove the binding to take rights away.
system:masters and other system: groups are refused (their certificates would pass every check).

The kubeconfig holds a private key. It is only written to a file (mode 0600, replaced atomically), never printed,
unless you ask for it with --out - (stdout). A user's kubeconfig needs --out. Changes no host and takes no lock.
-o json|yaml prints who the kubeconfig authenticates as, its server and its expiry, never the key.`,
		Example: `  berth kubeconfig -i inventory.yaml                                  # refresh the admin kubeconfig in the state directory
  berth kubeconfig -i inventory.yaml --out ~/.kube/payments-uat.yaml
  berth kubeconfig -i inventory.yaml --user alice --groups sre,payments-dev --expiry 8h --out alice.kubeconfig
  berth kubeconfig -i inventory.yaml --user ci-deployer --groups deployers --expiry 30d --out - | secret-store put ci/kubeconfig`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == installer.Stdout && a.machine() {
				return usageError{fmt.Errorf("--out - writes the kubeconfig to stdout: -o %s cannot go there too", a.output), cmd.CommandPath()}
			}
			o := installer.KubeconfigOptions{StateDir: stateDir, User: user, Groups: groups, Out: out, Logger: a.log,
				Observers: []phase.Observer{phase.NewTextReporter(a.errOut, a.verbosity >= 2)}}
			if cmd.Flags().Changed("expiry") {
				o.Expiry = expiry.d
			}
			if user == "" && (len(groups) > 0 || o.Expiry != 0) {
				return usageError{fmt.Errorf("--groups and --expiry are for a user's kubeconfig: add --user NAME"), cmd.CommandPath()}
			}
			if user != "" && out == "" {
				return usageError{fmt.Errorf("--user %s needs --out FILE (or --out - for stdout): the kubeconfig holds the user's private key", user), cmd.CommandPath()}
			}
			if user != "" {
				if err := installer.CheckUser(user, groups); err != nil {
					return usageError{err, cmd.CommandPath()}
				}
			}
			if o.Expiry != 0 && o.Expiry < installer.MinUserExpiry {
				return usageError{fmt.Errorf("--expiry %s: the cluster signs client certificates for at least %s", expiry.String(), installer.MinUserExpiry), cmd.CommandPath()}
			}
			inv, _, err := loadInventory(a, invPath)
			if err != nil {
				return err
			}
			o.Inventory = inv
			kc, err := installer.KubeconfigFor(cmd.Context(), o)
			if err != nil {
				return err
			}
			if out == installer.Stdout {
				_, err := a.out.Write(kc.Content)
				return err
			}
			if a.machine() {
				return a.print(kc)
			}
			who := "the admin kubeconfig"
			if !kc.Admin {
				who = "a kubeconfig for " + kc.User
			}
			verb := "Wrote"
			if !kc.Changed {
				verb = "Unchanged:"
			}
			fmt.Fprintf(a.out, "%s %s of %s to %s (0600): server %s, user %s, groups %v, expires %s (in %s)\n", verb, who, kc.Cluster,
				kc.File, kc.Server, kc.User, kc.Groups, kc.NotAfter.UTC().Format(time.RFC3339), time.Until(kc.NotAfter).Round(time.Minute))
			return nil
		},
	}
	inventoryFlag(cmd, &invPath, true)
	f := cmd.Flags()
	f.StringVar(&stateDir, "state-dir", "", "base directory of cluster state; default ~/.local/state/berth")
	f.StringVar(&user, "user", "", "issue a kubeconfig for this user (the certificate's common name) instead of the admin's")
	f.StringSliceVar(&groups, "groups", nil, "the user's groups, comma-separated (the certificate's organisations)")
	f.Var(&expiry, "expiry", "how long the user's certificate is valid: 30d, 12h, 90m (at least 10m)")
	f.StringVar(&out, "out", "", "`FILE` to write (0600), or - for stdout; default for the admin kubeconfig: the cluster's state directory")
	cmd.MarkFlagFilename("out")
	return cmd
}
