package labtest

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/berthsh/berth/lab"
)

// recorder is a testing.TB that records how Require ended instead of ending the test.
type recorder struct {
	testing.TB
	outcome string
}

func (r *recorder) Helper()                   {}
func (r *recorder) Cleanup(func())            {}
func (r *recorder) Log(args ...any)           {}
func (r *recorder) Skip(args ...any)          { r.end("skip", fmt.Sprint(args...)) }
func (r *recorder) Skipf(f string, a ...any)  { r.end("skip", fmt.Sprintf(f, a...)) }
func (r *recorder) Fatal(args ...any)         { r.end("fatal", fmt.Sprint(args...)) }
func (r *recorder) Fatalf(f string, a ...any) { r.end("fatal", fmt.Sprintf(f, a...)) }
func (r *recorder) end(outcome, msg string)   { r.outcome = outcome + ": " + msg; runtime.Goexit() }

func require(opts lab.Options) string {
	r := &recorder{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		Require(r, opts)
		r.outcome = "lab"
	}()
	<-done
	return r.outcome
}

// Without a Docker engine, Require skips, unless CI is set: then a missing prerequisite fails the test.
func TestRequireWithoutDocker(t *testing.T) {
	t.Setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
	tests := []struct {
		ci   string
		want string
	}{
		{"", "skip"},
		{"false", "skip"},
		{"true", "fatal"},
		{"1", "fatal"},
	}
	for _, tt := range tests {
		t.Run("CI="+tt.ci, func(t *testing.T) {
			t.Setenv("CI", tt.ci)
			got := require(lab.Options{Name: "t-labtest", Workers: 1, StateDir: t.TempDir()})
			want := tt.want
			if testing.Short() {
				want = "skip" // -short skips before looking for Docker
			}
			if len(got) < len(want) || got[:len(want)] != want {
				t.Errorf("Require with CI=%q ended %q, want %s", tt.ci, got, want)
			}
		})
	}
}

func TestRequireNeedsAName(t *testing.T) {
	if testing.Short() {
		t.Skip("Require skips under -short before checking the name")
	}
	if got := require(lab.Options{Workers: 1}); len(got) < 5 || got[:5] != "fatal" {
		t.Errorf("Require without a lab name ended %q, want fatal", got)
	}
}
