package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestDocsUseTheFlagsOfTheBinary reads every berth command line in the README and docs/ ("berth install -i ...",
// in code blocks and inline code alike) and checks that each flag it shows exists on that command, so that a
// renamed flag cannot live on in the documentation (docs/wizard.md showed `berth wizard -o FILE` and `--from`).
func TestDocsUseTheFlagsOfTheBinary(t *testing.T) {
	files, err := filepath.Glob("../../docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, "../../README.md")
	root := newRootCmd(&app{})
	checked := 0
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for n, line := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(line, "$ ") {
				continue // a transcript, which may show a mistake on purpose
			}
			for i := 0; ; {
				j := strings.Index(line[i:], "berth ")
				if j < 0 {
					break
				}
				at := i + j
				i = at + len("berth ")
				if at > 0 && !strings.ContainsRune(" `($", rune(line[at-1])) {
					continue // part of a word: "make-berth ..."
				}
				for _, problem := range checkCommandLine(root, line[i:]) {
					t.Errorf("%s:%d: %s\n\t%s", filepath.Base(file), n+1, problem, strings.TrimSpace(line))
				}
				checked++
			}
		}
	}
	if checked < 50 {
		t.Fatalf("checked only %d command lines: the docs were not found or not read", checked)
	}
}

// checkCommandLine walks the words after "berth" down the command tree and checks every flag that follows the
// command; it returns nothing for prose that names no command.
func checkCommandLine(root *cobra.Command, line string) []string {
	cmd := root
	var problems []string
	for _, word := range strings.Fields(line) {
		if strings.ContainsAny(word, "`|#;)") || word == "--" || word == "&&" || word == ">" || word == "<" {
			break
		}
		if !strings.HasPrefix(word, "-") {
			if sub := findSub(cmd, word); sub != nil {
				cmd = sub
			}
			continue
		}
		if cmd == root {
			continue // a flag of no command: prose such as "berth -v"
		}
		name, _, _ := strings.Cut(strings.TrimRight(word, ",.:"), "=")
		switch {
		case strings.HasPrefix(name, "--"):
			if lookup(cmd, strings.TrimPrefix(name, "--")) == nil {
				problems = append(problems, cmd.CommandPath()+" has no flag "+name)
			}
		case len(name) == 2 && name[1] >= 'a' && name[1] <= 'z':
			if cmd.Flags().ShorthandLookup(name[1:]) == nil && cmd.InheritedFlags().ShorthandLookup(name[1:]) == nil {
				problems = append(problems, cmd.CommandPath()+" has no flag "+name)
			}
		}
	}
	return problems
}

func findSub(cmd *cobra.Command, name string) *cobra.Command {
	for _, c := range cmd.Commands() {
		if c.Name() == name {
			return c
		}
	}
	return nil
}

func lookup(cmd *cobra.Command, name string) any {
	if f := cmd.Flags().Lookup(name); f != nil {
		return f
	}
	if f := cmd.InheritedFlags().Lookup(name); f != nil {
		return f
	}
	return nil
}
