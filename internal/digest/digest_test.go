package digest

import (
	"strings"
	"testing"
)

func TestValidHex(t *testing.T) {
	good := strings.Repeat("0123456789abcdef", 4)
	for s, want := range map[string]bool{
		good:                                  true,
		strings.ToUpper(good):                 false,
		good[:63]:                             false,
		good + "0":                            false,
		"sha256:" + good[7:]:                  false,
		good[:60] + "*) ;":                    false,
		good[:62] + "é":                       false, // 64 bytes, two of them not hex
		"":                                    false,
		strings.Repeat("g", 64):               false,
		"$(reboot)" + strings.Repeat("0", 55): false,
	} {
		if ValidHex(s) != want {
			t.Errorf("ValidHex(%q) = %v, want %v", s, !want, want)
		}
	}
}
