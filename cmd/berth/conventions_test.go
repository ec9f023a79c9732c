package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// commandTree returns every command of berth, parents first, as the cobra tree of one run builds them.
func commandTree(t *testing.T) []*cobra.Command {
	t.Helper()
	root := newRootCmd(&app{})
	var out []*cobra.Command
	walk(root, func(c *cobra.Command) { out = append(out, c) })
	return out
}

// argsFor returns the fewest placeholder arguments c's argument check accepts, and whether there is such a count.
func argsFor(c *cobra.Command) ([]string, bool) {
	for n := 0; n <= 3; n++ {
		args := make([]string, n)
		for i := range args {
			args[i] = fmt.Sprintf("ARG%d", i+1)
		}
		if len(c.ValidArgs) > 0 && n > 0 {
			args[0] = c.ValidArgs[0]
		}
		if c.Args == nil || c.Args(c, args) == nil {
			return args, true
		}
	}
	return nil, false
}

func requiredFlags(c *cobra.Command) []string {
	var out []string
	for _, name := range []string{"inventory", "bundle", "from", "file", "out"} {
		if f := c.Flags().Lookup(name); f != nil && slices.Equal(f.Annotations[cobra.BashCompOneRequiredFlag], []string{"true"}) {
			out = append(out, name)
		}
	}
	return out
}

// TestEveryCommandFollowsTheConventions runs every command of the tree with an unknown subcommand or a stray
// argument, an unknown flag, and without its required flags, and checks exit code 2, the message and the pointer
// to the command's help. Every case goes to testdata/usage-errors.golden, so a message change shows in review.
// Before issue 20, `berth inventory valdate x` printed the help and exited 0, a missing required flag exited 1
// with cobra's message and no pointer to the help, and `berth instal` exited 1.
func TestEveryCommandFollowsTheConventions(t *testing.T) {
	t.Setenv(envInventory, "")
	var log strings.Builder
	check := func(t *testing.T, args []string, want ...string) {
		t.Helper()
		code, out, errOut := berth(t, args...)
		fmt.Fprintf(&log, "$ berth %s\nexit %d\n%s\n", strings.Join(args, " "), code, errOut)
		if code != exitUsage {
			t.Errorf("berth %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, exitUsage, out, errOut)
		}
		for _, w := range want {
			if !strings.Contains(errOut, w) {
				t.Errorf("berth %s: stderr lacks %q:\n%s", strings.Join(args, " "), w, errOut)
			}
		}
	}
	var withRequired []string
	for _, c := range commandTree(t) {
		path := strings.Fields(c.CommandPath())[1:]
		see := fmt.Sprintf("See '%s --help'.", c.CommandPath())
		t.Run(c.CommandPath(), func(t *testing.T) {
			if c.Runnable() && c.Args == nil {
				t.Errorf("%s has no argument check: stray arguments would be ignored", c.CommandPath())
			}
			if c.HasSubCommands() {
				check(t, append(slices.Clone(path), "nosuchcommand"), fmt.Sprintf("unknown command %q for %q", "nosuchcommand", c.CommandPath()), see)
				sub := c.Commands()[0]
				typo := sub.Name()[:len(sub.Name())-1]
				check(t, append(slices.Clone(path), typo), fmt.Sprintf("did you mean %q", sub.Name()), see)
			} else if args, ok := argsFor(c); ok && c.Args(c, append(args, "stray")) != nil {
				check(t, append(append(slices.Clone(path), args...), "stray"), see)
			}
			check(t, append(slices.Clone(path), "--no-such-flag"), "unknown flag: --no-such-flag", see)
			if req := requiredFlags(c); len(req) > 0 {
				withRequired = append(withRequired, c.CommandPath())
				args, ok := argsFor(c)
				if !ok {
					t.Fatalf("no argument count satisfies %s", c.CommandPath())
				}
				want := []string{"missing the required flag", see}
				for _, r := range req {
					want = append(want, "--"+r)
				}
				check(t, append(slices.Clone(path), args...), want...)
			}
		})
	}
	for _, want := range []string{"berth install", "berth install phase", "berth upgrade plan", "berth upgrade apply",
		"berth etcd backup", "berth etcd restore", "berth status", "berth reset", "berth exec", "berth preflight", "berth bundle build",
		"berth kubeconfig", "berth certs check-expiration", "berth certs renew", "berth node remove"} {
		if !slices.Contains(withRequired, want) {
			t.Errorf("%s has no required flag: the inventory, bundle or file it needs would be found missing only later", want)
		}
	}
	if !t.Failed() {
		golden(t, "usage-errors.golden", log.String())
	}
}

// TestMistypedCommands: the commands of the issue, each with what was meant.
func TestMistypedCommands(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"inventory", "valdate", "x"}, `unknown command "valdate" for "berth inventory"; did you mean "validate"?`},
		{[]string{"bundle", "veryfy", "x"}, `unknown command "veryfy" for "berth bundle"; did you mean "verify"?`},
		{[]string{"instal"}, `unknown command "instal" for "berth"; did you mean "install"?`},
		{[]string{"instal", "-i", "inv.yaml"}, `unknown command "instal" for "berth"; did you mean "install"?`},
		{[]string{"inventory", "valdate", "-i", "inv.yaml"}, `did you mean "validate"?`},
		{[]string{"install", "phse"}, `unknown command "phse" for "berth install"; did you mean "phase"?`},
		{[]string{"help", "instal"}, `unknown command "instal" for "berth"; did you mean "install"?`},
		{[]string{"help", "upgrade", "aply"}, `unknown command "aply" for "berth upgrade"; did you mean "apply"?`},
		{[]string{"exec", "--concurency", "3"}, `unknown flag: --concurency; did you mean --concurrency?`},
		{[]string{"version", "-o", "xml"}, `-o xml: the output format is one of text, json, yaml`},
		{[]string{"wizard", "-o", "json"}, `berth wizard has no json output`},
		{[]string{"wizard", "-o", "inventory.yaml"}, `the file to write is --out`},
		{[]string{"inventory", "validate"}, `missing the inventory: -i FILE (or $BERTH_INVENTORY)`},
		{[]string{"inventory", "validate", "-i", "a.yaml", "b.yaml"}, `two inventories`},
	} {
		code, _, errOut := berth(t, tc.args...)
		if code != exitUsage || !strings.Contains(errOut, tc.want) || !strings.Contains(errOut, "See 'berth") {
			t.Errorf("berth %s: exit %d, stderr:\n%s\nwant exit 2 and %q", strings.Join(tc.args, " "), code, errOut, tc.want)
		}
	}
	// A group alone prints its help and succeeds, like kubectl and helm.
	if code, out, _ := berth(t, "inventory"); code != 0 || !strings.Contains(out, "Available Commands:") {
		t.Errorf("berth inventory: exit %d\n%s", code, out)
	}
	if code, out, _ := berth(t, "help", "upgrade", "apply"); code != 0 || !strings.Contains(out, "berth upgrade apply") {
		t.Errorf("berth help upgrade apply: exit %d\n%s", code, out)
	}
}

// TestVerbosityWithoutANumber: -v alone is 2; -v N, -vN, --verbosity N and --verbosity=N set N, anywhere on the
// line; words after -- are the remote command's.
func TestVerbosityWithoutANumber(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want int
	}{
		{[]string{"version"}, 1},
		{[]string{"-v", "version"}, 2},
		{[]string{"version", "-v"}, 2},
		{[]string{"version", "-v", "3"}, 3},
		{[]string{"-v", "0", "version"}, 0},
		{[]string{"version", "-v3"}, 3},
		{[]string{"version", "--verbosity=0"}, 0},
		{[]string{"version", "--verbosity", "3"}, 3},
		{[]string{"version", "--verbosity"}, 2},
	} {
		a := &app{in: strings.NewReader(""), out: &strings.Builder{}, errOut: &strings.Builder{}}
		root := newRootCmd(a)
		root.SetArgs(verbosityArgs(tc.args))
		root.SetOut(a.out)
		root.SetErr(a.errOut)
		if err := root.Execute(); err != nil {
			t.Errorf("berth %s: %v", strings.Join(tc.args, " "), err)
			continue
		}
		if a.verbosity != tc.want {
			t.Errorf("berth %s: verbosity %d, want %d", strings.Join(tc.args, " "), a.verbosity, tc.want)
		}
	}
	got := verbosityArgs([]string{"exec", "-v", "-i", "x", "--", "ls", "-v", "3"})
	if want := []string{"exec", "-v", "-i", "x", "--", "ls", "-v", "3"}; !slices.Equal(got, want) {
		t.Errorf("verbosityArgs changed the remote command: %q", got)
	}
	if code, _, errOut := berth(t, "version", "-v", "-1"); code != exitUsage {
		t.Errorf("-v -1: exit %d\n%s", code, errOut)
	}
}

// TestDeprecatedFlagWarnsOnStderr: a script still using an old flag name gets the warning on stderr and output it
// can parse on stdout.
func TestDeprecatedFlagWarnsOnStderr(t *testing.T) {
	inv := t.TempDir() + "/missing.yaml"
	_, stdout, stderr := berth(t, "exec", "--parallel", "2", "-i", inv, "-o", "json", "true")
	if strings.Contains(stdout, "deprecated") {
		t.Errorf("the deprecation warning is on stdout:\n%s", stdout)
	}
	if !strings.Contains(stderr, "Flag --parallel has been deprecated, use --concurrency") {
		t.Errorf("no deprecation warning on stderr:\n%s", stderr)
	}
}
