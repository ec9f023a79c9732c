package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"
)

// Output formats of -o. Every command with a result prints it in each: text for people, json and yaml for
// programs (the same fields, named as in the JSON).
const (
	formatText = "text"
	formatJSON = "json"
	formatYAML = "yaml"
)

// allFormats is what -o accepts unless a command says otherwise (annotationOutputs).
func allFormats() []string { return []string{formatText, formatJSON, formatYAML} }

// Annotations that set the conventions of a command or a flag (see conventions.go).
const (
	// annotationOutputs on a command lists the -o formats it has, comma-separated, when not all of them: a command
	// with nothing to print as data (wizard, lab ssh) takes only text, and says so when asked for json.
	annotationOutputs = "berth.sh/outputs"
	// annotationOutputFile on a command names the flag that took the file to write before -o became the output
	// format everywhere: `-o FILE` (anything that is not a format) still works there, with a warning.
	annotationOutputFile = "berth.sh/output-file"
	// annotationEnv on a flag names the environment variable that gives its value when the flag is not given.
	annotationEnv = "berth.sh/env"
	// annotationGroup marks a command that only groups subcommands.
	annotationGroup = "berth.sh/group"
)

// formats returns the -o formats cmd accepts.
func formats(cmd *cobra.Command) []string {
	if s := cmd.Annotations[annotationOutputs]; s != "" {
		return strings.Split(s, ",")
	}
	return allFormats()
}

// onlyText marks cmd as having no machine-readable output.
func onlyText(cmd *cobra.Command) *cobra.Command {
	if cmd.Annotations == nil {
		cmd.Annotations = map[string]string{}
	}
	cmd.Annotations[annotationOutputs] = formatText
	return cmd
}

// checkOutput validates -o for cmd. Where -o named a file (annotationOutputFile), a value that is no format is
// moved to that command's file flag with a deprecation warning.
func (a *app) checkOutput(cmd *cobra.Command) error {
	ok := formats(cmd)
	if slices.Contains(ok, a.output) {
		return nil
	}
	if name := cmd.Annotations[annotationOutputFile]; name != "" && !slices.Contains(allFormats(), a.output) {
		if cmd.Flags().Changed(name) {
			return usageError{fmt.Errorf("-o %s: -o is the output format (text, json or yaml); the file to write is --%s, given already", a.output, name), cmd.CommandPath()}
		}
		fmt.Fprintf(a.errOut, "warning: '-o %s' is deprecated for the file to write: use --%s %s (-o is the output format everywhere)\n", a.output, name, a.output)
		if err := cmd.Flags().Set(name, a.output); err != nil {
			return usageError{err, cmd.CommandPath()}
		}
		a.output = formatText
		return nil
	}
	if len(ok) == 1 {
		msg := fmt.Sprintf("%s has no %s output: it prints text only", cmd.CommandPath(), a.output)
		if !slices.Contains(allFormats(), a.output) {
			msg = fmt.Sprintf("-o %s: -o is the output format, and %s prints text only", a.output, cmd.CommandPath())
		}
		if cmd.Flags().Lookup("out") != nil {
			msg += "; the file to write is --out"
		}
		return usageError{fmt.Errorf("%s", msg), cmd.CommandPath()}
	}
	msg := fmt.Sprintf("-o %s: the output format is one of %s", a.output, strings.Join(ok, ", "))
	if cmd.Flags().Lookup("out") != nil {
		msg += "; the file to write is --out"
	}
	return usageError{fmt.Errorf("%s", msg), cmd.CommandPath()}
}

// machine reports whether machine-readable output (json or yaml) was asked for.
func (a *app) machine() bool { return a.output == formatJSON || a.output == formatYAML }

// print writes v to stdout as -o asks: indented JSON, or YAML with the JSON field names. Text output is each
// command's own; call print only when machine() is true (under -o text it writes JSON, as schema wants).
func (a *app) print(v any) error {
	if a.output == formatYAML {
		b, err := yaml.Marshal(v)
		if err != nil {
			return fmt.Errorf("write YAML: %w", err)
		}
		_, err = a.out.Write(b)
		return err
	}
	enc := json.NewEncoder(a.out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
