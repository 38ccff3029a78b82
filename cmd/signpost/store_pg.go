package main

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
)

// openPostgresEnd opens the SML and SMP repositories of a PostgreSQL database for a copy.
func openPostgresEnd(_ context.Context, e storeEnd) (*openedStore, error) {
	return nil, fmt.Errorf("postgres:%s: the PostgreSQL backend is not built yet", redactPassword(e.where))
}

var kvPassword = regexp.MustCompile(`(?i)(password\s*=\s*)('[^']*'|\S+)`)

// redactPassword hides the password of a DSN (URL or key=value form), for messages.
func redactPassword(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.Scheme != "" && u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
			return u.String()
		}
		return dsn
	}
	return kvPassword.ReplaceAllString(dsn, "${1}xxxxx")
}
