package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/signpost-project/signpost/internal/console"
	"github.com/signpost-project/signpost/sml"
	"github.com/signpost-project/signpost/smp/auth"
)

// devConsoleUser is the console user `signpost dev` creates on the SMP (and the SML).
const devConsoleUser = "admin"

// devConsolePassword returns the console password of DIR/console-admin.password, generating it (mode 0600)
// at the first start and reusing it after.
func devConsolePassword(dir string) (path, password string, err error) {
	path = filepath.Join(dir, "console-admin.password")
	b, err := os.ReadFile(path)
	if err == nil {
		if pw := strings.TrimSpace(string(b)); len(pw) >= 12 {
			return path, pw, nil
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", "", fmt.Errorf("dev: console password: %w", err)
	}
	var r [18]byte
	_, _ = rand.Read(r[:])
	pw := base64.RawURLEncoding.EncodeToString(r[:])
	if err := os.WriteFile(path, []byte(pw+"\n"), 0o600); err != nil {
		return "", "", fmt.Errorf("dev: console password: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		return "", "", fmt.Errorf("dev: console password: %w", err)
	}
	return path, pw, nil
}

// devSMPConsoleUser makes the SMP's console user admin an administrator with the password.
func devSMPConsoleUser(ctx context.Context, creds *auth.Service, password string) error {
	if err := creds.SetUser(ctx, devConsoleUser, auth.UserChange{Admin: true, Password: &password}); err != nil {
		return fmt.Errorf("dev: SMP console user: %w", err)
	}
	return nil
}

// devSMLConsoleUser gives the SML's console user admin the password (the SML has its own console users).
func devSMLConsoleUser(ctx context.Context, st sml.ConsoleStore, password string) error {
	if u, ok, err := st.ConsoleUser(ctx, devConsoleUser); err == nil && ok && console.VerifyPassword(password, u.Password) {
		return nil // set at an earlier start: no new hash
	}
	hash, err := console.HashPassword(password)
	if err != nil {
		return fmt.Errorf("dev: SML console user: %w", err)
	}
	if _, err := st.SetConsoleUser(ctx, devConsoleUser, hash, time.Now()); err != nil {
		return fmt.Errorf("dev: SML console user: %w", err)
	}
	return nil
}
