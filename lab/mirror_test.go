package lab

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestFindMirror(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"one-line with options", map[string]string{
			"etc/apt/sources.list": "# comment\ndeb-src http://src.example/debian bookworm main\n" +
				"deb [arch=amd64 signed-by=/usr/share/keyrings/k.gpg] http://mirror.example/debian bookworm main contrib # tail\n",
		}, "http://mirror.example/debian"},
		{"security first, then the main suite", map[string]string{
			"etc/apt/sources.list": "deb http://sec.example/debian-security bookworm-security main\n" +
				"deb http://main.example/debian bookworm main\n",
		}, "http://main.example/debian"},
		{"deb822", map[string]string{
			"etc/apt/sources.list.d/debian.sources": "Types: deb\n# a comment\nURIs: http://a.example/debian\n" +
				"Suites: bookworm bookworm-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n" +
				"Types: deb\nURIs: http://a.example/debian-security\nSuites: bookworm-security\nComponents: main\n",
		}, "http://a.example/debian"},
		{"deb822 disabled stanza and deb-src", map[string]string{
			"etc/apt/sources.list.d/a.sources": "Enabled: no\nTypes: deb\nURIs: http://off.example/debian\nSuites: bookworm\n\n" +
				"Types: deb-src\nURIs: http://src.example/debian\nSuites: bookworm\n\n" +
				"Types: deb deb-src\nURIs:\n http://on.example/debian\nSuites: bookworm\n",
		}, "http://on.example/debian"},
		{"list files after sources.list", map[string]string{
			"etc/apt/sources.list":             "deb http://other.example/debian trixie main\n",
			"etc/apt/sources.list.d/x.list":    "deb http://x.example/debian bookworm main\n",
			"etc/apt/sources.list.d/y.sources": "Types: deb\nURIs: http://y.example/debian\nSuites: bookworm\n",
		}, "http://x.example/debian"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(mirrorEnv, "")
			root := t.TempDir()
			for name, content := range tt.files {
				p := filepath.Join(root, name)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, err := findMirror(root, "bookworm")
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("findMirror = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestFindMirrorMissingAndOverride(t *testing.T) {
	t.Setenv(mirrorEnv, "")
	root := t.TempDir()
	_, err := findMirror(root, "bookworm")
	if !errors.Is(err, ErrPrerequisite) {
		t.Fatalf("no sources: error = %v, want ErrPrerequisite", err)
	}
	t.Setenv(mirrorEnv, "http://override.example/debian")
	got, err := findMirror(root, "bookworm")
	if err != nil || got != "http://override.example/debian" {
		t.Fatalf("override: %q, %v", got, err)
	}
}
