package conf

import (
	"net"
	"strings"
	"time"
)

// Store says where the registry's data lives: the embedded bbolt file (the default), or a PostgreSQL database
// shared by several nodes.
type Store struct {
	// Backend is "bolt" (default) or "postgres".
	Backend string `yaml:"backend"`
	// DSN is the PostgreSQL connection string (URL or key=value form) of backend postgres. The password may
	// instead come from PGPASSWORD or ~/.pgpass, as with psql. The SML and the SMP may share a database: each
	// keeps to its own schema (sml, smp).
	DSN string `yaml:"dsn"`
	// Path of the bbolt file. Default: ./data/<sml|smp>.db. With backend postgres only its directory is used, as
	// the default home of the node's local files (admin token, ACME cache).
	Path string `yaml:"path"`
	// LockTimeout is how long to wait for another process to release the file. Default 2s.
	LockTimeout time.Duration `yaml:"lock_timeout"`
}

// Log configures logging.
type Log struct {
	// Format is "text" or "json". Default text.
	Format string `yaml:"format"`
	// Level is "debug", "info", "warn" or "error". Default info.
	Level string `yaml:"level"`
}

// Ops is the operations listener (/healthz, /readyz, /metrics). Never the public address.
type Ops struct {
	// Addr is HOST:PORT; empty disables the listener. Default 127.0.0.1:9090 (SML) or 127.0.0.1:9091 (SMP).
	Addr string `yaml:"addr"`
}

// TLSFiles names a certificate and its key, PEM, or a PKCS#12 file.
type TLSFiles struct {
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
	// PKCS12 is a .p12/.pfx file holding key, certificate and chain; instead of Cert and Key.
	PKCS12 string `yaml:"pkcs12"`
	// PasswordFile holds the PKCS#12 password (first line). Empty: no password.
	PasswordFile string `yaml:"password_file"`
}

func (l *Log) defaults() {
	if l.Format == "" {
		l.Format = "text"
	}
	if l.Level == "" {
		l.Level = "info"
	}
}

func (l *Log) validate(p *problems) {
	switch l.Format {
	case "text", "json":
	default:
		p.add("log.format", "%q is not a log format; use text or json", l.Format)
	}
	switch strings.ToLower(l.Level) {
	case "debug", "info", "warn", "error":
	default:
		p.add("log.level", "%q is not a log level; use debug, info, warn or error", l.Level)
	}
}

// The store backends.
const (
	BackendBolt     = "bolt"
	BackendPostgres = "postgres"
)

// Postgres reports whether the store is a PostgreSQL database.
func (s *Store) Postgres() bool { return s.Backend == BackendPostgres }

func (s *Store) defaults(name string) {
	if s.Backend == "" {
		s.Backend = BackendBolt
	}
	if s.Path == "" {
		s.Path = "./data/" + name + ".db"
	}
	if s.LockTimeout == 0 {
		s.LockTimeout = 2 * time.Second
	}
}

func (s *Store) validate(p *problems) {
	if s.LockTimeout < 0 {
		p.add("store.lock_timeout", "must not be negative")
	}
	switch s.Backend {
	case BackendBolt:
		if s.DSN != "" {
			p.add("store.dsn", "is only read with backend postgres; set store.backend: postgres, or remove it")
		}
	case BackendPostgres:
		if s.DSN == "" {
			p.add("store.dsn", "backend postgres needs a connection string, e.g. postgres://signpost@db.example:5432/registry")
		}
	default:
		p.add("store.backend", "%q is not a store backend; use bolt or postgres", s.Backend)
	}
}

func (t *TLSFiles) validate(p *problems, path string, required bool) {
	switch {
	case t.PKCS12 != "" && (t.Cert != "" || t.Key != ""):
		p.add(path, "give either pkcs12 or cert and key, not both")
	case t.PKCS12 != "":
	case t.Cert != "" && t.Key == "":
		p.add(path+".key", "missing: cert %q needs its private key", t.Cert)
	case t.Cert == "" && t.Key != "":
		p.add(path+".cert", "missing: key %q needs its certificate", t.Key)
	case t.Cert == "" && required:
		p.add(path, "missing: give cert and key (PEM) or pkcs12")
	}
	if t.PasswordFile != "" && t.PKCS12 == "" {
		p.add(path+".password_file", "only used with pkcs12")
	}
}

// Set reports whether any key material is configured.
func (t TLSFiles) Set() bool { return t.Cert != "" || t.PKCS12 != "" }

func validateAddr(p *problems, path, addr string, allowEmpty bool) {
	if addr == "" {
		if !allowEmpty {
			p.add(path, "missing: give HOST:PORT")
		}
		return
	}
	if _, port, err := net.SplitHostPort(addr); err != nil || port == "" {
		p.add(path, "%q is not HOST:PORT", addr)
	}
}

func validatePositive(p *problems, path string, d time.Duration) {
	if d <= 0 {
		p.add(path, "must be a positive duration, like 5s")
	}
}
