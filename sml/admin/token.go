package admin

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// The admin token is a random secret in a file (conf admin.token_file; DIR/sml-admin.token in `signpost dev`):
// the server writes it at its first start and keeps only its SHA-256 in memory; the admin commands read the file
// and send it as "Authorization: Bearer <token>".

// minTokenLen is the shortest token accepted from a file an operator wrote.
const minTokenLen = 16

// Token checks the admin token of a request, in constant time.
type Token struct{ sum [sha256.Size]byte }

// NewToken returns the Token that accepts tok.
func NewToken(tok string) Token { return Token{sum: sha256.Sum256([]byte(tok))} }

// Check reports whether the Authorization header value carries the token ("Bearer <token>").
func (t Token) Check(authorization string) bool {
	scheme, tok, ok := strings.Cut(authorization, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(tok)))
	return subtle.ConstantTimeCompare(sum[:], t.sum[:]) == 1
}

// EnsureTokenFile returns the token in the file at path, first writing a new random one (mode 0600, in a
// directory created 0700 if missing) when the file does not exist. created says whether it wrote one. A file
// that other users may read or write, or whose token is shorter than 16 characters, is refused.
func EnsureTokenFile(path string) (tok string, created bool, err error) {
	tok, err = ReadTokenFile(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return tok, false, err
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", false, fmt.Errorf("admin token: %w", err)
	}
	tok = base64.RawURLEncoding.EncodeToString(b[:])
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", false, fmt.Errorf("admin token: %w", err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".sml-admin-token-*")
	if err != nil {
		return "", false, fmt.Errorf("admin token: %w", err)
	}
	defer os.Remove(f.Name())
	_, err = f.WriteString(tok + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		// Link, not rename: a file another process wrote meanwhile is kept, and both then use its token.
		err = os.Link(f.Name(), path)
	}
	if errors.Is(err, fs.ErrExist) {
		tok, err = ReadTokenFile(path)
		return tok, false, err
	}
	if err != nil {
		return "", false, fmt.Errorf("admin token: %w", err)
	}
	return tok, true, nil
}

// ReadTokenFile returns the token in the first line of the file at path. It refuses a file that other users may
// read or write, and a token shorter than 16 characters.
func ReadTokenFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("admin token: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("admin token: %w", err)
	}
	if m := st.Mode().Perm(); m&0o007 != 0 {
		return "", fmt.Errorf("admin token: %s has mode %04o: other users may read it; run chmod 600 %s", path, m, path)
	}
	b := make([]byte, 4096)
	n, err := f.Read(b)
	if err != nil && n == 0 {
		return "", fmt.Errorf("admin token: %s is empty: delete it and restart the server to get a new token", path)
	}
	line, _, _ := strings.Cut(string(b[:n]), "\n")
	tok := strings.TrimSpace(line)
	if len(tok) < minTokenLen {
		return "", fmt.Errorf("admin token: the first line of %s holds %d characters, fewer than %d: write a longer random token "+
			"(or delete the file and restart the server, which writes one)", path, len(tok), minTokenLen)
	}
	return tok, nil
}
