package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/signpost-project/signpost/smp/auth"
)

// AdminUser is the user EnsureAdminToken creates.
const AdminUser = "admin"

// EnsureAdminToken returns an administrator's bearer token for the management API, kept in the file path: the
// token in the file when the store still accepts it as an administrator's, else a new token of user "admin"
// (created as an administrator), written to path (mode 0600, replacing the file atomically). The server calls it
// with admin.token_file at start (DIR/smp-admin.token in `signpost dev`), so the admin commands find a token.
func EnsureAdminToken(ctx context.Context, creds *auth.Service, path string) (string, error) {
	if b, err := os.ReadFile(path); err == nil {
		tok := strings.TrimSpace(string(b))
		if a, err := creds.Authenticate(ctx, "Bearer "+tok); err == nil && a.Admin {
			return tok, nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("admin token: %w", err)
	}
	tok, _, err := creds.CreateToken(ctx, AdminUser, true)
	if err != nil {
		return "", fmt.Errorf("admin token: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".smp-admin-token-*")
	if err != nil {
		return "", fmt.Errorf("admin token: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		_ = tmp.Close()
		return "", fmt.Errorf("admin token: %w", err)
	}
	if _, err := tmp.WriteString(tok + "\n"); err != nil {
		_ = tmp.Close()
		return "", fmt.Errorf("admin token: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("admin token: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", fmt.Errorf("admin token: %w", err)
	}
	return tok, nil
}
