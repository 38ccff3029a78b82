package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/signpost-project/signpost/conf"
	"github.com/signpost-project/signpost/internal/testnet"
	"github.com/signpost-project/signpost/sml/admin"
	smlconsole "github.com/signpost-project/signpost/sml/console"
	smpconsole "github.com/signpost-project/signpost/smp/console"
)

// TestDevConsolesHTTP checks both consoles of `signpost dev` with a plain HTTP client: the password file is 0600
// and opens both; pages need a session; the cookies are HttpOnly, SameSite=Strict and not Secure over plain
// HTTP; a cross-origin POST is refused with 403 and leaves the session as it was; the JSON admin APIs beside
// them still want their tokens.
func TestDevConsolesHTTP(t *testing.T) {
	o := startDevInProcess(t)
	pwPath := filepath.Join(o.dir, "console-admin.password")
	fi, err := os.Stat(pwPath)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("%s: %v %v", pwPath, fi, err)
	}
	raw, _ := os.ReadFile(pwPath)
	pw := strings.TrimSpace(string(raw))
	for _, c := range []struct {
		name, base, cookie string
	}{
		{"smp", "http://" + o.smpAdminAddr, smpconsole.SessionCookie},
		{"sml", "http://" + o.smlAdminAddr, smlconsole.SessionCookie},
	} {
		t.Run(c.name, func(t *testing.T) {
			jar, _ := cookiejar.New(nil)
			cl := &http.Client{Jar: jar, Timeout: 30 * time.Second,
				CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			do := func(method, path string, form url.Values, hdr ...string) *http.Response {
				t.Helper()
				var body io.Reader
				if form != nil {
					body = strings.NewReader(form.Encode())
				}
				req, _ := http.NewRequest(method, c.base+path, body)
				if form != nil {
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				}
				for i := 0; i+1 < len(hdr); i += 2 {
					req.Header.Set(hdr[i], hdr[i+1])
				}
				resp, err := cl.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				return resp
			}
			if r := do("GET", "/", nil); r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/login") {
				t.Fatalf("without a session: %d %s", r.StatusCode, r.Header.Get("Location"))
			}
			if r := do("POST", "/login", url.Values{"user": {"admin"}, "password": {"not the password"}}); r.StatusCode != http.StatusUnauthorized {
				t.Fatalf("wrong password: %d", r.StatusCode)
			}
			r := do("POST", "/login", url.Values{"user": {"admin"}, "password": {pw}})
			if r.StatusCode != http.StatusSeeOther {
				t.Fatalf("login: %d", r.StatusCode)
			}
			var sc *http.Cookie
			for _, k := range r.Cookies() {
				if k.Name == c.cookie {
					sc = k
				}
			}
			if sc == nil || !sc.HttpOnly || sc.SameSite != http.SameSiteStrictMode || sc.Secure {
				t.Fatalf("session cookie %+v", sc)
			}
			if r := do("GET", "/", nil); r.StatusCode != http.StatusOK || !strings.Contains(r.Header.Get("Content-Security-Policy"), "script-src 'self'") {
				t.Fatalf("signed in: %d CSP %q", r.StatusCode, r.Header.Get("Content-Security-Policy"))
			}
			// Another site's page posting the logout form: refused, the session stays.
			if r := do("POST", "/logout", url.Values{}, "Origin", "https://evil.example"); r.StatusCode != http.StatusForbidden {
				t.Fatalf("cross-origin logout: %d", r.StatusCode)
			}
			if r := do("GET", "/", nil); r.StatusCode != http.StatusOK {
				t.Fatalf("after the refused cross-origin POST: %d", r.StatusCode)
			}
			if r := do("GET", "/api/v1/status", nil); r.StatusCode != http.StatusUnauthorized {
				t.Fatalf("the admin API with a console session only: %d", r.StatusCode)
			}
			if r := do("POST", "/logout", url.Values{}); r.StatusCode != http.StatusSeeOther {
				t.Fatalf("logout: %d", r.StatusCode)
			}
			if r := do("GET", "/", nil); r.StatusCode != http.StatusSeeOther {
				t.Fatalf("after logout: %d", r.StatusCode)
			}
		})
	}
}

// TestSMLUserCommands: `sml user set` creates a console user from a password file, refuses a short password
// and a bad name (usage, exit 2), lists it, and the served console lets it in; `sml user delete` removes it.
func TestSMLUserCommands(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	cfgPath, c := smlConfig(t, dir)
	pwFile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwFile, []byte("authority-password-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	short := filepath.Join(dir, "short")
	if err := os.WriteFile(short, []byte("short\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := runSML(t, ctx, "sml", "user", "set", "--config", cfgPath, "op", "--password-file", short); code != 2 || !strings.Contains(errOut, "at least 12") {
		t.Fatalf("short password: %d %s", code, errOut)
	}
	if _, _, code := runSML(t, ctx, "sml", "user", "set", "--config", cfgPath, "bad name", "--password-file", pwFile); code != 2 {
		t.Fatalf("bad name: %d", code)
	}
	if out, errOut, code := runSML(t, ctx, "sml", "user", "set", "--config", cfgPath, "op", "--password-file", pwFile); code != 0 || !strings.Contains(out, "created") {
		t.Fatalf("user set: %d %s %s", code, out, errOut)
	}
	if out, _, code := runSML(t, ctx, "sml", "user", "list", "--config", cfgPath); code != 0 || !strings.Contains(out, "op ") {
		t.Fatalf("user list: %d %s", code, out)
	}
	runSML(t, ctx, "sml", "user", "set", "--config", cfgPath, "gone", "--password-file", pwFile)
	if out, _, code := runSML(t, ctx, "sml", "user", "delete", "--config", cfgPath, "gone"); code != 0 || !strings.Contains(out, "deleted") {
		t.Fatalf("user delete: %d %s", code, out)
	}
	if out, _, _ := runSML(t, ctx, "sml", "user", "list", "--config", cfgPath); strings.Contains(out, "gone") {
		t.Fatalf("deleted user listed: %s", out)
	}
	if _, _, code := runSML(t, ctx, "sml", "user", "delete", "--config", cfgPath, "gone"); code != 2 {
		t.Fatalf("delete of an unknown user: %d", code)
	}
	startSMLServe(t, c)
	cl := &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := cl.PostForm("http://"+c.Admin.Listen+"/login", url.Values{"user": {"op"}, "password": {"authority-password-1"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login of the new user: %d", resp.StatusCode)
	}
}

// TestSMLConsoleSecondaries: the domains page asks each configured secondary (dns.notify) for the zone's serial:
// the SML's own DNS server, listed as a secondary, answers the zone's serial (up to date); an address where
// nothing answers is shown with its error.
func TestSMLConsoleSecondaries(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	dnsAddr, silent := testnet.FreeAddr(t), testnet.FreeAddr(t)
	path := filepath.Join(dir, "sml.yaml")
	text := "store:\n  path: " + filepath.Join(dir, "sml.db") + "\nlog:\n  level: error\nops:\n  addr: " + testnet.FreeAddr(t) +
		"\ndns:\n  listen: " + dnsAddr + "\n  notify: [" + dnsAddr + ", " + silent + "]\nadmin:\n  listen: " + testnet.FreeAddr(t) +
		"\ndomains:\n  - zone: sml.test\n    records: [naptr]\n    glue:\n      ns1.sml.test: [127.0.0.1]\n"
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := conf.LoadSML(path)
	if err != nil {
		t.Fatal(err)
	}
	pwFile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwFile, []byte("authority-password-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := runSML(t, ctx, "sml", "user", "set", "--config", path, "op", "--password-file", pwFile); code != 0 {
		t.Fatalf("user set: %s", errOut)
	}
	startSMLServe(t, c)
	jar, _ := cookiejar.New(nil)
	cl := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	resp, err := cl.PostForm("http://"+c.Admin.Listen+"/login", url.Values{"user": {"op"}, "password": {"authority-password-1"}})
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	tok, err := admin.ReadTokenFile(c.Admin.TokenFile)
	if err != nil {
		t.Fatal(err)
	}
	st, err := (&admin.Client{Addr: c.Admin.Listen, Token: tok}).Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	serial := strconv.FormatUint(uint64(st.Zones[0].Serial), 10)
	body := string(page)
	own := regexp.MustCompile(`<td data-label="Secondary">` + regexp.QuoteMeta(dnsAddr) + `</td>\s*<td data-label="Serial it answers">` + serial + `</td><td data-label="Behind">up to date</td>`)
	bad := regexp.MustCompile(`<td data-label="Secondary">` + regexp.QuoteMeta(silent) + `</td>\s*<td data-label="Serial it answers" colspan="2" class="error">[^<]+</td>`)
	if resp.StatusCode != http.StatusOK || !own.MatchString(body) || !bad.MatchString(body) {
		t.Fatalf("domains page (serial %s): %d\n%s", serial, resp.StatusCode, body)
	}
}
