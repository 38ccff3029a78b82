package smlclient

import (
	"crypto/rand"
	"math/big"
)

// Migration keys (PrepareToMigrate): BDMSL, and the SML of this project, accept 8 to 24 characters without white
// space, with at least two upper-case letters, two lower-case letters, two digits and two special characters of
// "@#$%()[]{}*^_-!~|+=". NewMigrationKey draws four of each class, with its special characters from the subset a
// shell leaves alone inside single quotes and most tools pass unchanged.
const (
	keyUpper    = "ABCDEFGHJKLMNPQRSTUVWXYZ" // no I, O: the key is read and typed by people
	keyLower    = "abcdefghijkmnopqrstuvwxyz"
	keyDigits   = "23456789"
	keySpecials = "@%_-+="
	keyPerClass = 4
)

// NewMigrationKey returns a random migration key that meets the SML's rules (16 characters, from crypto/rand).
func NewMigrationKey() (string, error) {
	var b []byte
	for _, class := range []string{keyUpper, keyLower, keyDigits, keySpecials} {
		for range keyPerClass {
			i, err := randIndex(len(class))
			if err != nil {
				return "", err
			}
			b = append(b, class[i])
		}
	}
	for i := len(b) - 1; i > 0; i-- { // Fisher-Yates
		j, err := randIndex(i + 1)
		if err != nil {
			return "", err
		}
		b[i], b[j] = b[j], b[i]
	}
	return string(b), nil
}

func randIndex(n int) (int, error) {
	v, err := rand.Int(rand.Reader, big.NewInt(int64(n)))
	if err != nil {
		return 0, err
	}
	return int(v.Int64()), nil
}
