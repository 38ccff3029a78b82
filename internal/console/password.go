package console

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// PasswordIterations is the PBKDF2-HMAC-SHA256 iteration count of new console passwords (the SMP's users use
// the same count and format, smp/auth).
const PasswordIterations = 600000

// MinPasswordLength is the shortest password accepted.
const MinPasswordLength = 12

// HashPassword hashes a new password as "pbkdf2-sha256$ITER$SALT$KEY" (16-byte random salt, 32-byte key,
// unpadded standard base64).
func HashPassword(password string) (string, error) {
	if len(password) < MinPasswordLength {
		return "", fmt.Errorf("the password is too short: use at least %d characters", MinPasswordLength)
	}
	var salt [16]byte
	if _, err := rand.Read(salt[:]); err != nil {
		return "", err
	}
	key, err := pbkdf2.Key(sha256.New, password, salt[:], PasswordIterations, 32)
	if err != nil {
		return "", err
	}
	enc := base64.RawStdEncoding
	return "pbkdf2-sha256$" + strconv.Itoa(PasswordIterations) + "$" + enc.EncodeToString(salt[:]) + "$" + enc.EncodeToString(key), nil
}

// errBadHash is a stored hash this package cannot read.
var errBadHash = errors.New("not a pbkdf2-sha256 password hash")

// VerifyPassword reports whether password matches hash (from HashPassword), in constant time over the key.
func VerifyPassword(password, hash string) bool {
	ok, err := verify(password, hash)
	return err == nil && ok
}

func verify(password, hash string) (bool, error) {
	f := strings.Split(hash, "$")
	if len(f) != 4 || f[0] != "pbkdf2-sha256" {
		return false, errBadHash
	}
	iter, err := strconv.Atoi(f[1])
	if err != nil || iter < 1 || iter > 10_000_000 {
		return false, errBadHash
	}
	salt, err := base64.RawStdEncoding.DecodeString(f[2])
	if err != nil {
		return false, errBadHash
	}
	want, err := base64.RawStdEncoding.DecodeString(f[3])
	if err != nil || len(want) == 0 {
		return false, errBadHash
	}
	got, err := pbkdf2.Key(sha256.New, password, salt, iter, len(want))
	if err != nil {
		return false, err
	}
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// DummyHash is verified against for an unknown user, so that a login takes as long whether the user exists or not.
var DummyHash = "pbkdf2-sha256$600000$c2lnbnBvc3QtZHVtbXktc2FsdA$" + base64.RawStdEncoding.EncodeToString(make([]byte, 32))
