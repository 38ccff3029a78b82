package smlclient

import (
	"strings"
	"testing"
	"unicode"
)

// TestNewMigrationKey: every key meets the SML's rules (8 to 24 characters, no white space, at least two upper-case
// letters, lower-case letters, digits and special characters of BDMSL's set), and keys differ.
func TestNewMigrationKey(t *testing.T) {
	const bdmslSpecials = "@#$%()[]{}*^_-!~|+="
	seen := map[string]bool{}
	for range 500 {
		k, err := NewMigrationKey()
		if err != nil {
			t.Fatal(err)
		}
		if seen[k] {
			t.Fatalf("key %q drawn twice", k)
		}
		seen[k] = true
		var up, low, dig, spec int
		for _, r := range k {
			switch {
			case unicode.IsSpace(r):
				t.Fatalf("%q has white space", k)
			case r >= 'A' && r <= 'Z':
				up++
			case r >= 'a' && r <= 'z':
				low++
			case r >= '0' && r <= '9':
				dig++
			case strings.ContainsRune(bdmslSpecials, r):
				spec++
			default:
				t.Fatalf("%q has %q, outside the SML's character classes", k, r)
			}
		}
		if len(k) < 8 || len(k) > 24 || up < 2 || low < 2 || dig < 2 || spec < 2 {
			t.Fatalf("%q breaks the rules: %d characters, %d upper, %d lower, %d digits, %d special", k, len(k), up, low, dig, spec)
		}
	}
}
