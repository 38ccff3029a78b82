package repotest

import (
	"context"
	"testing"
	"time"

	"github.com/signpost-project/signpost/internal/console"
	"github.com/signpost-project/signpost/sml"
)

// RunConsole checks a console store (sml.ConsoleStore): users and sessions. Each run opens an empty one.
func RunConsole(t *testing.T, open func(t *testing.T) sml.ConsoleStore) {
	ctx := context.Background()
	t.Run("Users", func(t *testing.T) {
		c := open(t)
		t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		for _, name := range []string{"bob", "Alice", "alice"} {
			if created, err := c.SetConsoleUser(ctx, name, "hash-"+name, t0); err != nil || !created {
				t.Fatalf("set %s: %v %v", name, created, err)
			}
		}
		// A new password keeps the creation time.
		if created, err := c.SetConsoleUser(ctx, "bob", "hash-2", t0.Add(time.Hour)); err != nil || created {
			t.Fatalf("set bob again: %v %v", created, err)
		}
		u, ok, err := c.ConsoleUser(ctx, "bob")
		if err != nil || !ok || u.Name != "bob" || u.Password != "hash-2" || !u.Created.Equal(t0) {
			t.Errorf("bob: %+v %v %v", u, ok, err)
		}
		if _, ok, err := c.ConsoleUser(ctx, "Bob"); ok || err != nil {
			t.Errorf("user names are exact: Bob found (%v)", err)
		}
		users, err := c.ConsoleUsers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, u := range users {
			names = append(names, u.Name)
		}
		if len(names) != 3 || names[0] != "Alice" || names[1] != "alice" || names[2] != "bob" {
			t.Errorf("users %q, want [Alice alice bob]", names)
		}
		if found, err := c.DeleteConsoleUser(ctx, "alice"); err != nil || !found {
			t.Errorf("delete alice: %v %v", found, err)
		}
		if found, err := c.DeleteConsoleUser(ctx, "alice"); err != nil || found {
			t.Errorf("delete alice again: %v %v", found, err)
		}
		if _, ok, _ := c.ConsoleUser(ctx, "Alice"); !ok {
			t.Error("deleting alice deleted Alice")
		}
	})
	t.Run("Sessions", func(t *testing.T) {
		c := open(t)
		t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		s := console.Session{User: "bob", Admin: true, Since: t0, Seen: t0.Add(time.Minute)}
		if err := c.PutSession(ctx, "k1", s); err != nil {
			t.Fatal(err)
		}
		if err := c.PutSession(ctx, "k2", console.Session{User: "eve", Since: t0, Seen: t0.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		got, ok, err := c.GetSession(ctx, "k1")
		if err != nil || !ok || got.User != "bob" || !got.Admin || !got.Since.Equal(s.Since) || !got.Seen.Equal(s.Seen) {
			t.Errorf("session k1: %+v %v %v", got, ok, err)
		}
		s.Seen = t0.Add(2 * time.Hour)
		if err := c.PutSession(ctx, "k1", s); err != nil {
			t.Fatal(err)
		}
		if got, _, _ := c.GetSession(ctx, "k1"); !got.Seen.Equal(s.Seen) {
			t.Errorf("session k1 seen %v after a put, want %v", got.Seen, s.Seen)
		}
		if n, err := c.DeleteSessionsSeenBefore(ctx, t0.Add(90*time.Minute)); err != nil || n != 1 {
			t.Errorf("delete idle sessions: %d %v, want 1", n, err)
		}
		if _, ok, _ := c.GetSession(ctx, "k2"); ok {
			t.Error("an idle session is left")
		}
		if err := c.DeleteSession(ctx, "k1"); err != nil {
			t.Fatal(err)
		}
		if _, ok, err := c.GetSession(ctx, "k1"); ok || err != nil {
			t.Errorf("deleted session: %v %v", ok, err)
		}
	})
}
