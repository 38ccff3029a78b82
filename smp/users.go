package smp

import (
	"bytes"
	"context"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Users of the management API: each has a name, an admin flag, an optional password (HTTP Basic) and any number
// of bearer tokens. Tokens are stored as the SHA-256 of the token (a 32-byte random value: a fast hash is enough,
// nobody can guess it); passwords with PBKDF2-HMAC-SHA256 (standard library, PasswordIterations rounds).

// Actor is who makes a write: an authenticated user.
type Actor struct {
	User  string
	Admin bool
}

// may reports whether the actor may change a service group owned by owner.
func (a Actor) may(owner string) bool { return a.Admin || (a.User != "" && a.User == owner) }

// User is a user of the management API as listed.
type User struct {
	Name     string    `json:"name"`
	Admin    bool      `json:"admin,omitempty"`
	Password string    `json:"password,omitempty"` // PBKDF2 hash, "pbkdf2-sha256$iterations$salt$key" (base64)
	Created  time.Time `json:"created"`
}

// HasPassword reports whether the user can log in with HTTP Basic.
func (u *User) HasPassword() bool { return u.Password != "" }

// TokenInfo describes a bearer token (never the token itself).
type TokenInfo struct {
	// ID names the token for listing and revoking: the first 16 hex digits of its SHA-256.
	ID      string    `json:"id"`
	User    string    `json:"user"`
	Created time.Time `json:"created"`
	// Hash is the token's SHA-256 (hex), stored to compare in constant time.
	Hash string `json:"sha256"`
}

// TokenPrefix starts every token this SMP issues (so secret scanners and humans recognise one).
const TokenPrefix = "spt_"

// PasswordIterations is the PBKDF2-HMAC-SHA256 iteration count for new passwords (OWASP's 2023 figure).
const PasswordIterations = 600000

const tokenIDLen = 8 // bytes of the hash in a token ID

// ValidUserName checks a user name: 1 to 64 of A-Z a-z 0-9 . _ @ -.
func ValidUserName(name string) error {
	if name == "" || len(name) > 64 {
		return invalid("user", "a user name has 1 to 64 characters")
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._@-", r)) {
			return invalidf("user", "%q: a user name has only letters, digits and . _ @ -", name)
		}
	}
	return nil
}

func getUser(tx Tx, name string) (*User, error) {
	b := tx.Get(TableUsers, []byte(name))
	if b == nil {
		return nil, nil
	}
	var u User
	if err := json.Unmarshal(b, &u); err != nil {
		return nil, internal("decode stored user", err)
	}
	return &u, nil
}

func putUser(tx Tx, u *User) error {
	b, err := json.Marshal(u)
	if err != nil {
		return internal("encode user", err)
	}
	return tx.Put(TableUsers, []byte(u.Name), b)
}

// EnsureUser creates a user (without credentials) or, when it exists, sets its admin flag; it reports whether
// anything changed.
func (s *Service) EnsureUser(ctx context.Context, name string, admin bool) (changed bool, err error) {
	if err := ValidUserName(name); err != nil {
		return false, err
	}
	err = s.repo.Update(func(tx Tx) error {
		u, err := getUser(tx, name)
		if err != nil {
			return err
		}
		if u == nil {
			u = &User{Name: name, Created: s.now().UTC().Truncate(time.Second)}
		} else if u.Admin == admin {
			return nil
		}
		u.Admin, changed = admin, true
		return putUser(tx, u)
	})
	return changed, err
}

// SetPassword sets (or, with an empty password, removes) a user's HTTP Basic password; the user must exist.
func (s *Service) SetPassword(ctx context.Context, name, password string) error {
	var hash string
	if password != "" {
		if len(password) < 12 {
			return invalid("password", "use at least 12 characters")
		}
		var err error
		if hash, err = hashPassword(password, PasswordIterations); err != nil {
			return internal("hash password", err)
		}
	}
	return s.repo.Update(func(tx Tx) error {
		u, err := getUser(tx, name)
		if err != nil {
			return err
		}
		if u == nil {
			return notFound("user " + name)
		}
		u.Password = hash
		return putUser(tx, u)
	})
}

// Users lists the users by name.
func (s *Service) Users(ctx context.Context) ([]User, error) {
	var out []User
	err := s.repo.View(func(tx Tx) error {
		return tx.Scan(TableUsers, nil, nil, func(_, v []byte) error {
			var u User
			if err := json.Unmarshal(v, &u); err != nil {
				return internal("decode stored user", err)
			}
			out = append(out, u)
			return nil
		})
	})
	return out, err
}

// DeleteUser deletes a user and revokes its tokens. The service groups it owns keep its name as their owner
// (administrators still change them; a user created again with that name owns them again).
func (s *Service) DeleteUser(ctx context.Context, name string) error {
	return s.repo.Update(func(tx Tx) error {
		if tx.Get(TableUsers, []byte(name)) == nil {
			return notFound("user " + name)
		}
		var keys [][]byte
		err := tx.Scan(TableTokens, nil, nil, func(k, v []byte) error {
			var ti TokenInfo
			if err := json.Unmarshal(v, &ti); err != nil {
				return internal("decode stored token", err)
			}
			if ti.User == name {
				keys = append(keys, bytes.Clone(k))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range keys {
			if err := tx.Delete(TableTokens, k); err != nil {
				return err
			}
		}
		return tx.Delete(TableUsers, []byte(name))
	})
}

// CreateToken issues a bearer token for a user, creating the user when it does not exist; admin makes the user
// an administrator (an existing administrator stays one). The token is returned once and stored only hashed.
func (s *Service) CreateToken(ctx context.Context, user string, admin bool) (string, TokenInfo, error) {
	if err := ValidUserName(user); err != nil {
		return "", TokenInfo{}, err
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", TokenInfo{}, internal("random token", err)
	}
	token := TokenPrefix + base64.RawURLEncoding.EncodeToString(raw)
	sum := sha256.Sum256([]byte(token))
	ti := TokenInfo{ID: hex.EncodeToString(sum[:tokenIDLen]), User: user, Created: s.now().UTC().Truncate(time.Second), Hash: hex.EncodeToString(sum[:])}
	err := s.repo.Update(func(tx Tx) error {
		u, err := getUser(tx, user)
		if err != nil {
			return err
		}
		if u == nil {
			u = &User{Name: user, Admin: admin, Created: ti.Created}
			if err := putUser(tx, u); err != nil {
				return err
			}
		} else if admin && !u.Admin {
			u.Admin = true
			if err := putUser(tx, u); err != nil {
				return err
			}
		}
		b, err := json.Marshal(ti)
		if err != nil {
			return internal("encode token", err)
		}
		return tx.Put(TableTokens, sum[:], b)
	})
	if err != nil {
		return "", TokenInfo{}, err
	}
	return token, ti, nil
}

// Tokens lists the tokens (by ID).
func (s *Service) Tokens(ctx context.Context) ([]TokenInfo, error) {
	var out []TokenInfo
	err := s.repo.View(func(tx Tx) error {
		return tx.Scan(TableTokens, nil, nil, func(_, v []byte) error {
			var ti TokenInfo
			if err := json.Unmarshal(v, &ti); err != nil {
				return internal("decode stored token", err)
			}
			out = append(out, ti)
			return nil
		})
	})
	return out, err
}

// RevokeToken deletes the token with this ID. A running server refuses it from the next request on: every write
// reads the token from the store.
func (s *Service) RevokeToken(ctx context.Context, id string) error {
	id = strings.ToLower(strings.TrimSpace(id))
	prefix, err := hex.DecodeString(id)
	if err != nil || len(prefix) != tokenIDLen {
		return invalidf("token id", "%q is not a token ID (16 hex digits, as `signpost smp token list` shows)", id)
	}
	return s.repo.Update(func(tx Tx) error {
		var keys [][]byte
		if err := tx.Scan(TableTokens, prefix, nil, func(k, _ []byte) error {
			keys = append(keys, bytes.Clone(k))
			return nil
		}); err != nil {
			return err
		}
		if len(keys) == 0 {
			return notFound("token " + id)
		}
		for _, k := range keys {
			if err := tx.Delete(TableTokens, k); err != nil {
				return err
			}
		}
		return nil
	})
}

// Authenticate checks an Authorization header value: "Bearer <token>" or "Basic <base64 user:password>". It reads
// the store on each call, so a revoked token or a deleted user is refused at once. Errors are KindUnauthorized.
func (s *Service) Authenticate(authorization string) (Actor, error) {
	return s.authenticate(authorization, nil)
}

func (s *Service) authenticate(authorization string, cache *passwordCache) (Actor, error) {
	scheme, cred, _ := strings.Cut(strings.TrimSpace(authorization), " ")
	cred = strings.TrimSpace(cred)
	switch {
	case authorization == "":
		return Actor{}, unauthorized("no credentials: send Authorization: Bearer <token> (signpost smp token create) or HTTP Basic")
	case strings.EqualFold(scheme, "Bearer"):
		return s.authToken(cred)
	case strings.EqualFold(scheme, "Basic"):
		b, err := base64.StdEncoding.DecodeString(cred)
		if err != nil {
			return Actor{}, unauthorized("malformed Basic credentials")
		}
		user, pw, ok := strings.Cut(string(b), ":")
		if !ok {
			return Actor{}, unauthorized("malformed Basic credentials")
		}
		return s.authPassword(user, pw, cache)
	default:
		return Actor{}, unauthorized("unsupported authorization scheme " + strconv.Quote(scheme) + "; use Bearer or Basic")
	}
}

func unauthorized(msg string) error { return &Error{Kind: KindUnauthorized, Msg: msg} }

func (s *Service) authToken(token string) (Actor, error) {
	sum := sha256.Sum256([]byte(token))
	var a Actor
	err := s.repo.View(func(tx Tx) error {
		b := tx.Get(TableTokens, sum[:])
		if b == nil {
			return unauthorized("the token is unknown or revoked")
		}
		var ti TokenInfo
		if err := json.Unmarshal(b, &ti); err != nil {
			return internal("decode stored token", err)
		}
		stored, err := hex.DecodeString(ti.Hash)
		if err != nil || subtle.ConstantTimeCompare(stored, sum[:]) != 1 {
			return unauthorized("the token is unknown or revoked")
		}
		u, err := getUser(tx, ti.User)
		if err != nil {
			return err
		}
		if u == nil {
			return unauthorized("the token's user no longer exists")
		}
		a = Actor{User: u.Name, Admin: u.Admin}
		return nil
	})
	return a, err
}

// dummyHash is verified against when a user does not exist, so the answer takes as long as for a real user.
var dummyHash = sync.OnceValue(func() string {
	h, _ := hashPassword("not a password of anybody", PasswordIterations)
	return h
})

func (s *Service) authPassword(name, password string, cache *passwordCache) (Actor, error) {
	var u *User
	err := s.repo.View(func(tx Tx) error {
		var err error
		u, err = getUser(tx, name)
		return err
	})
	if err != nil {
		return Actor{}, err
	}
	hash := dummyHash()
	if u != nil && u.Password != "" {
		hash = u.Password
	}
	ok := cache.check(name, password, hash)
	if !ok || u == nil || u.Password == "" {
		return Actor{}, unauthorized("wrong user name or password")
	}
	return Actor{User: u.Name, Admin: u.Admin}, nil
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
