package main

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/berthsh/berth/inventory"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// The conventions every berth command follows, applied to the whole command tree in one place so that no command
// can miss them (TestEveryCommandFollowsTheConventions walks the tree):
//   - exit 2, with "See 'berth X --help'.", for every mistake in the command line: an unknown command (with the
//     commands it may have meant), an unknown flag (likewise), a missing required flag, wrong arguments;
//   - a command that only groups others prints its help when called alone, and refuses anything else;
//   - a flag with annotationEnv takes its value from the environment when it is not given.

// applyConventions sets the conventions on root and every command under it.
func applyConventions(root *cobra.Command) {
	root.SetFlagErrorFunc(flagError)
	// A group is runnable only to refuse unknown commands: its usage shows "berth X [command]" alone.
	root.SetUsageTemplate(strings.Replace(root.UsageTemplate(), "{{if .Runnable}}",
		`{{if and .Runnable (not (index .Annotations "`+annotationGroup+`"))}}`, 1))
	walk(root, func(c *cobra.Command) {
		c.SuggestionsMinimumDistance = 2 // cobra defaults it for the root only
		if c.HasSubCommands() && !c.Runnable() {
			if c.Annotations == nil {
				c.Annotations = map[string]string{}
			}
			c.Annotations[annotationGroup] = "true"
			c.Args = cobra.ArbitraryArgs
			c.RunE = runGroup
		}
		if args := c.Args; args != nil {
			c.Args = func(cmd *cobra.Command, a []string) error {
				if err := args(cmd, a); err != nil {
					if cmd.HasSubCommands() && len(a) > 0 {
						return unknownCommand(cmd, a[0]) // berth install phse: say which subcommand was meant
					}
					return asUsage(err, cmd)
				}
				return nil
			}
		}
	})
}

// walk calls fn on c and every command under it, parents first.
func walk(c *cobra.Command, fn func(*cobra.Command)) {
	fn(c)
	for _, sub := range c.Commands() {
		walk(sub, fn)
	}
}

// asUsage marks err as a mistake in cmd's command line, unless it is one already.
func asUsage(err error, cmd *cobra.Command) error {
	var ue usageError
	if errors.As(err, &ue) {
		return err
	}
	return usageError{err, cmd.CommandPath()}
}

// runGroup is the RunE of a command that only groups subcommands: alone it prints its help; with an argument it
// names the unknown command and what was meant (cobra would print the help and exit 0, and a script would pass).
func runGroup(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return cmd.Help()
	}
	return unknownCommand(cmd, args[0])
}

// unknownCommand is the usage error for a word that is none of cmd's subcommands.
func unknownCommand(cmd *cobra.Command, word string) error {
	msg := fmt.Sprintf("unknown command %q for %q", word, cmd.CommandPath())
	if s := cmd.SuggestionsFor(word); len(s) > 0 {
		msg += "; did you mean " + quoteList(s, "or") + "?"
	} else {
		var names []string
		for _, sub := range cmd.Commands() {
			if sub.IsAvailableCommand() {
				names = append(names, sub.Name())
			}
		}
		msg += "; its commands are " + strings.Join(names, ", ")
	}
	return usageError{errors.New(msg), cmd.CommandPath()}
}

// flagError is every command's FlagErrorFunc: a usage error, naming the flag that was probably meant, or the
// unknown command when the command line went wrong earlier (berth inventory valdate -i x).
func flagError(cmd *cobra.Command, err error) error {
	if cmd.Annotations[annotationGroup] != "" {
		if args := cmd.Flags().Args(); len(args) > 0 {
			return unknownCommand(cmd, args[0])
		}
	}
	var ne *pflag.NotExistError
	if errors.As(err, &ne) {
		if s := similarFlags(cmd, ne.GetSpecifiedName()); len(s) > 0 {
			err = fmt.Errorf("%w; did you mean %s?", err, quoteList(s, "or"))
		}
	}
	return usageError{err, cmd.CommandPath()}
}

// similarFlags lists cmd's visible flags whose names are at most two edits from name, or start with it.
func similarFlags(cmd *cobra.Command, name string) []string {
	if len(name) < 2 {
		return nil
	}
	var out []string
	seen := map[string]bool{}
	visit := func(f *pflag.Flag) {
		if f.Hidden || f.Deprecated != "" || seen[f.Name] {
			return
		}
		if inventory.EditDistance(name, f.Name) <= 2 || strings.HasPrefix(f.Name, name) {
			seen[f.Name] = true
			out = append(out, "--"+f.Name)
		}
	}
	cmd.Flags().VisitAll(visit)
	cmd.InheritedFlags().VisitAll(visit)
	sort.Strings(out)
	return out
}

// quoteList is `"a"`, `"a" or "b"`, `"a", "b" or "c"`; flags (--x) are not quoted.
func quoteList(items []string, conj string) string {
	q := make([]string, len(items))
	for i, s := range items {
		if strings.HasPrefix(s, "-") {
			q[i] = s
		} else {
			q[i] = fmt.Sprintf("%q", s)
		}
	}
	if len(q) == 1 {
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " " + conj + " " + q[len(q)-1]
}

// applyEnv gives each flag of cmd with annotationEnv that was not on the command line the value of its
// environment variable, when set, and remembers which flags it set.
func (a *app) applyEnv(cmd *cobra.Command) error {
	var err error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		env := f.Annotations[annotationEnv]
		if err != nil || len(env) == 0 || f.Changed {
			return
		}
		v := os.Getenv(env[0])
		if v == "" {
			return
		}
		if serr := cmd.Flags().Set(f.Name, v); serr != nil {
			err = usageError{fmt.Errorf("$%s: %w", env[0], serr), cmd.CommandPath()}
			return
		}
		if a.fromEnv == nil {
			a.fromEnv = map[string]string{}
		}
		a.fromEnv[f.Name] = env[0]
	})
	return err
}

// checkRequired refuses a command line that lacks a required flag, naming every missing one the way it is
// written (-i/--inventory) and the environment variable that can stand in for it. cobra checks this too, but
// later, and without the pointer to the help.
func checkRequired(cmd *cobra.Command) error {
	var missing []string
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if req := f.Annotations[cobra.BashCompOneRequiredFlag]; len(req) == 0 || req[0] != "true" || f.Changed {
			return
		}
		name := "--" + f.Name
		if f.Shorthand != "" {
			name = "-" + f.Shorthand + "/" + name
		}
		if env := f.Annotations[annotationEnv]; len(env) > 0 {
			name += " (or $" + env[0] + ")"
		}
		missing = append(missing, name)
	})
	switch len(missing) {
	case 0:
		return nil
	case 1:
		return usageError{fmt.Errorf("missing the required flag %s", missing[0]), cmd.CommandPath()}
	}
	return usageError{fmt.Errorf("missing the required flags %s", strings.Join(missing, ", ")), cmd.CommandPath()}
}

// newHelpCmd is `berth help [command]`: an unknown command is a usage error here too.
func newHelpCmd() *cobra.Command {
	return onlyText(&cobra.Command{
		Use:   "help [command]",
		Short: "Help about any command",
		Long:  "Prints the help of any command: berth help upgrade apply is berth upgrade apply --help.",
		Args:  cobra.ArbitraryArgs,
		ValidArgsFunction: func(c *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
			target, rest, err := c.Root().Find(args)
			if err != nil || len(rest) > 0 {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			var out []cobra.Completion
			for _, sub := range target.Commands() {
				if sub.IsAvailableCommand() && strings.HasPrefix(sub.Name(), toComplete) {
					out = append(out, cobra.CompletionWithDesc(sub.Name(), sub.Short))
				}
			}
			return out, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(c *cobra.Command, args []string) error {
			target, rest, err := c.Root().Find(args)
			if err != nil {
				return asUsage(err, c)
			}
			if len(rest) > 0 {
				return unknownCommand(target, rest[0])
			}
			return target.Help()
		},
	})
}

// verbosityArgs joins "-v N" and "--verbosity N" into "-v=N": -v alone means 2, so the flag parser would take a
// separate N for a positional argument. "-vN" becomes "-v=N" for the same reason. Nothing after "--" changes, and
// shell completion requests are left as they are.
func verbosityArgs(args []string) []string {
	if len(args) > 0 && strings.HasPrefix(args[0], cobra.ShellCompRequestCmd) {
		return args
	}
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		arg := args[i]
		switch {
		case arg == "--":
			return append(out, args[i:]...)
		case (arg == "-v" || arg == "--verbosity") && i+1 < len(args) && isLevel(args[i+1]):
			out = append(out, arg+"="+args[i+1])
			i++
		case strings.HasPrefix(arg, "-v") && isLevel(arg[2:]):
			out = append(out, "-v="+arg[2:])
		default:
			out = append(out, arg)
		}
	}
	return out
}

// isLevel reports whether s is a verbosity level: one or two digits.
func isLevel(s string) bool {
	if len(s) == 0 || len(s) > 2 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// exactArgs accepts exactly n positional arguments; names says what they are ("BUNDLE", "FROM TO", "no arguments").
func exactArgs(n int, names string) cobra.PositionalArgs { return rangeArgs(n, n, names) }

// rangeArgs accepts from lo to hi positional arguments, and otherwise says what the command takes and what it got.
func rangeArgs(lo, hi int, names string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) >= lo && len(args) <= hi {
			return nil
		}
		got := "none"
		if len(args) > 0 {
			q := make([]string, len(args))
			for i, a := range args {
				q[i] = fmt.Sprintf("%q", a)
			}
			got = strings.Join(q, " ")
			if len(args) > 1 {
				got = fmt.Sprintf("%d arguments: %s", len(args), got)
			}
		}
		return usageError{fmt.Errorf("%s takes %s; got %s", cmd.CommandPath(), names, got), cmd.CommandPath()}
	}
}
