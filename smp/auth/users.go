// Package auth holds the SMP's users and their credentials: bearer tokens (stored as SHA-256) and HTTP Basic
// passwords (PBKDF2), how they are issued and revoked, and how an Authorization header becomes the acting
// smp.Principal, with a short cache of verified passwords and a limit on failed attempts per client address.
package auth

import (
	"context"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/signpost-project/signpost/smp"
)

// Users of the management API: each has a name, an admin flag, an optional password (HTTP Basic) and any number
// of bearer tokens. Tokens are stored as the SHA-256 of the token (a 32-byte random value: a fast hash is enough,
// nobody can guess it); passwords with PBKDF2-HMAC-SHA256 (standard library, PasswordIterations rounds).

// Service manages users and credentials on the SMP's repository. It is safe for concurrent use.
type Service struct {
	repo  smp.Repository
	now   func() time.Time
	cache *passwordCache
}

// New returns the credential service on repo; now may be nil (time.Now).
func New(repo smp.Repository, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{repo: repo, now: now, cache: newPasswordCache()}
}

// TokenPrefix starts every token this SMP issues (so secret scanners and humans recognise one).
const TokenPrefix = "spt_"

// PasswordIterations is the PBKDF2-HMAC-SHA256 iteration count for new passwords (OWASP's 2023 figure).
const PasswordIterations = 600000

const tokenIDLen = 8 // bytes of the hash in a token ID

// SetPassword sets (or, with an empty password, removes) a user's HTTP Basic password; the user must exist.
func (s *Service) SetPassword(ctx context.Context, name, password string) error {
	hash, err := newPasswordHash(password)
	if err != nil {
		return err
	}
	return wrap(s.repo.Update(ctx, func(tx smp.WriteTx) error {
		u, err := tx.User(name)
		if err != nil {
			return err
		}
		if u == nil {
			return smp.NotFound("user " + name)
		}
		u.Password = hash
		return tx.PutUser(*u)
	}))
}

// UserInfo is a user as listed: never its password hash.
type UserInfo struct {
	Name        string    `json:"name"`
	Admin       bool      `json:"admin"`
	HasPassword bool      `json:"password"`
	Created     time.Time `json:"created"`
}

// Users lists the users by name.
func (s *Service) Users(ctx context.Context) ([]UserInfo, error) {
	var us []smp.User
	err := s.repo.View(ctx, func(tx smp.ReadTx) error {
		var err error
		us, err = tx.Users()
		return err
	})
	out := make([]UserInfo, 0, len(us))
	for _, u := range us {
		out = append(out, UserInfo{Name: u.Name, Admin: u.Admin, HasPassword: u.HasPassword(), Created: u.Created})
	}
	return out, wrap(err)
}

// UserChange is what SetUser changes.
type UserChange struct {
	Admin bool `json:"admin"`
	// Password, when set, becomes the HTTP Basic password ("" removes it); nil keeps the current one.
	Password *string `json:"password,omitempty"`
}

// SetUser creates a user (without credentials unless c sets a password) or changes its admin flag and password.
func (s *Service) SetUser(ctx context.Context, name string, c UserChange) error {
	if err := smp.ValidUserName(name); err != nil {
		return err
	}
	var hash string
	if c.Password != nil {
		var err error
		if hash, err = newPasswordHash(*c.Password); err != nil {
			return err
		}
	}
	return wrap(s.repo.Update(ctx, func(tx smp.WriteTx) error {
		u, err := tx.User(name)
		if err != nil {
			return err
		}
		if u == nil {
			u = &smp.User{Name: name, Created: s.now().UTC().Truncate(time.Second)}
		}
		u.Admin = c.Admin
		if c.Password != nil {
			u.Password = hash
		}
		return tx.PutUser(*u)
	}))
}

// DeleteUser deletes a user and revokes its tokens. The service groups it owns keep its name as their owner
// (administrators still change them; a user created again with that name owns them again).
func (s *Service) DeleteUser(ctx context.Context, name string) error {
	return wrap(s.repo.Update(ctx, func(tx smp.WriteTx) error {
		u, err := tx.User(name)
		if err != nil {
			return err
		}
		if u == nil {
			return smp.NotFound("user " + name)
		}
		return tx.DeleteUser(name)
	}))
}

// CreateToken issues a bearer token for a user, creating the user when it does not exist; admin makes the user
// an administrator (an existing administrator stays one). The token is returned once and stored only hashed.
func (s *Service) CreateToken(ctx context.Context, user string, admin bool) (string, smp.TokenInfo, error) {
	if err := smp.ValidUserName(user); err != nil {
		return "", smp.TokenInfo{}, err
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", smp.TokenInfo{}, smp.Internal("random token", err)
	}
	token := TokenPrefix + base64.RawURLEncoding.EncodeToString(raw)
	sum := sha256.Sum256([]byte(token))
	ti := smp.TokenInfo{ID: hex.EncodeToString(sum[:tokenIDLen]), User: user, Created: s.now().UTC().Truncate(time.Second), Hash: hex.EncodeToString(sum[:])}
	err := s.repo.Update(ctx, func(tx smp.WriteTx) error {
		u, err := tx.User(user)
		if err != nil {
			return err
		}
		if u == nil {
			if err := tx.PutUser(smp.User{Name: user, Admin: admin, Created: ti.Created}); err != nil {
				return err
			}
		} else if admin && !u.Admin {
			u.Admin = true
			if err := tx.PutUser(*u); err != nil {
				return err
			}
		}
		return tx.PutToken(ti)
	})
	if err != nil {
		return "", smp.TokenInfo{}, wrap(err)
	}
	return token, ti, nil
}

// Tokens lists the tokens (by ID).
func (s *Service) Tokens(ctx context.Context) ([]smp.TokenInfo, error) {
	var out []smp.TokenInfo
	err := s.repo.View(ctx, func(tx smp.ReadTx) error {
		var err error
		out, err = tx.Tokens()
		return err
	})
	return out, wrap(err)
}

// RevokeToken deletes the token with this ID. A running server refuses it from the next request on: every
// request reads the token from the store.
func (s *Service) RevokeToken(ctx context.Context, id string) error {
	id = strings.ToLower(strings.TrimSpace(id))
	if b, err := hex.DecodeString(id); err != nil || len(b) != tokenIDLen {
		return smp.Invalidf("token id", "%q is not a token ID (16 hex digits, as `signpost smp token list` shows)", id)
	}
	return wrap(s.repo.Update(ctx, func(tx smp.WriteTx) error {
		n, err := tx.DeleteToken(id)
		if err == nil && n == 0 {
			err = smp.NotFound("token " + id)
		}
		return err
	}))
}

// wrap makes a repository failure an internal error of package smp (kinds already set pass through).
func wrap(err error) error {
	if err == nil {
		return nil
	}
	var e *smp.Error
	if errors.As(err, &e) {
		return err
	}
	return smp.Internal("credentials store", err)
}

// Authenticate checks an Authorization header value: "Bearer <token>" or "Basic <base64 user:password>". It reads
// the store on each call, so a revoked token or a deleted user is refused at once. Errors are KindUnauthorized.
func (s *Service) Authenticate(ctx context.Context, authorization string) (smp.Principal, error) {
	scheme, cred, _ := strings.Cut(strings.TrimSpace(authorization), " ")
	cred = strings.TrimSpace(cred)
	switch {
	case authorization == "":
		return smp.Principal{}, smp.Unauthorized("no credentials: send Authorization: Bearer <token> (signpost smp token create) or HTTP Basic")
	case strings.EqualFold(scheme, "Bearer"):
		return s.authToken(ctx, cred)
	case strings.EqualFold(scheme, "Basic"):
		b, err := base64.StdEncoding.DecodeString(cred)
		if err != nil {
			return smp.Principal{}, smp.Unauthorized("malformed Basic credentials")
		}
		user, pw, ok := strings.Cut(string(b), ":")
		if !ok {
			return smp.Principal{}, smp.Unauthorized("malformed Basic credentials")
		}
		return s.authPassword(ctx, user, pw)
	default:
		return smp.Principal{}, smp.Unauthorized("unsupported authorization scheme " + strconv.Quote(scheme) + "; use Bearer or Basic")
	}
}

func (s *Service) authToken(ctx context.Context, token string) (smp.Principal, error) {
	sum := sha256.Sum256([]byte(token))
	var a smp.Principal
	err := s.repo.View(ctx, func(tx smp.ReadTx) error {
		ti, err := tx.Token(sum[:])
		if err != nil {
			return err
		}
		if ti == nil {
			return smp.Unauthorized("the token is unknown or revoked")
		}
		stored, err := hex.DecodeString(ti.Hash)
		if err != nil || subtle.ConstantTimeCompare(stored, sum[:]) != 1 {
			return smp.Unauthorized("the token is unknown or revoked")
		}
		u, err := tx.User(ti.User)
		if err != nil {
			return err
		}
		if u == nil {
			return smp.Unauthorized("the token's user no longer exists")
		}
		a = smp.Principal{User: u.Name, Admin: u.Admin}
		return nil
	})
	return a, wrap(err)
}

// dummyHash is verified against when a user does not exist, so the answer takes as long as for a real user.
var dummyHash = sync.OnceValue(func() string {
	h, _ := hashPassword("not a password of anybody", PasswordIterations)
	return h
})

func (s *Service) authPassword(ctx context.Context, name, password string) (smp.Principal, error) {
	var u *smp.User
	err := s.repo.View(ctx, func(tx smp.ReadTx) error {
		var err error
		u, err = tx.User(name)
		return err
	})
	if err != nil {
		return smp.Principal{}, wrap(err)
	}
	hash := dummyHash()
	if u != nil && u.Password != "" {
		hash = u.Password
	}
	ok := s.cache.check(name, password, hash)
	if !ok || u == nil || u.Password == "" {
		return smp.Principal{}, smp.Unauthorized("wrong user name or password")
	}
	return smp.Principal{User: u.Name, Admin: u.Admin}, nil
}

// newPasswordHash checks a new password and hashes it; "" (no password) hashes to "".
func newPasswordHash(password string) (string, error) {
	if password == "" {
		return "", nil
	}
	if len(password) < 12 {
		return "", smp.Invalid("password", "use at least 12 characters")
	}
	hash, err := hashPassword(password, PasswordIterations)
	if err != nil {
		return "", smp.Internal("hash password", err)
	}
	return hash, nil
}

func hashPassword(password string, iter int) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key, err := pbkdf2.Key(sha256.New, password, salt, iter, 32)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("pbkdf2-sha256$%d$%s$%s", iter, base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

func verifyPassword(password, hash string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 4 || parts[0] != "pbkdf2-sha256" {
		return false
	}
	iter, err := strconv.Atoi(parts[1])
	if err != nil || iter < 1 || iter > 10_000_000 {
		return false
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[2])
	want, err2 := base64.RawStdEncoding.DecodeString(parts[3])
	if err1 != nil || err2 != nil {
		return false
	}
	got, err := pbkdf2.Key(sha256.New, password, salt, iter, len(want))
	return err == nil && subtle.ConstantTimeCompare(got, want) == 1
}

// passwordCache remembers, for a few minutes, credentials that verified against a stored hash, so a script that
// writes thousands of documents with HTTP Basic pays the slow KDF once. The key covers the stored hash: a changed
// password or a deleted user misses.
type passwordCache struct {
	mu sync.Mutex
	m  map[[32]byte]time.Time
}

const (
	passwordCacheTTL = 5 * time.Minute
	passwordCacheMax = 1024
)

func newPasswordCache() *passwordCache { return &passwordCache{m: map[[32]byte]time.Time{}} }

// check verifies password against hash, through the cache (a nil cache verifies every time).
func (c *passwordCache) check(user, password, hash string) bool {
	if c == nil {
		return verifyPassword(password, hash)
	}
	h := sha256.New()
	for _, s := range []string{user, password, hash} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	var k [32]byte
	h.Sum(k[:0])
	now := time.Now()
	c.mu.Lock()
	t, ok := c.m[k]
	c.mu.Unlock()
	if ok && now.Sub(t) < passwordCacheTTL {
		return true
	}
	if !verifyPassword(password, hash) {
		return false
	}
	c.mu.Lock()
	if len(c.m) >= passwordCacheMax {
		clear(c.m)
	}
	c.m[k] = now
	c.mu.Unlock()
	return true
}
