package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/signpost-project/signpost/identifier"
	smpapp "github.com/signpost-project/signpost/smp/app"
)

// chromium returns Debian's chromium, skipping the test when it is absent outside CI (in CI,
// scripts/install-test-deps.sh installs it and its absence fails the test).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium is not installed, and CI must run the browser tests: scripts/install-test-deps.sh installs the Debian package chromium")
	}
	t.Skip("chromium is not installed (scripts/install-test-deps.sh installs it)")
	return ""
}

// newBrowser starts a headless chromium for the test, closed at its end.
func newBrowser(t *testing.T, path string) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
		chromedp.WindowSize(1280, 900), chromedp.Flag("headless", true), chromedp.UserDataDir(t.TempDir()))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 4*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("chromium: %v", err)
	}
	return ctx
}

// shots saves full-page PNGs into $SIGNPOST_SCREENSHOTS (make screenshots); a no-op without it.
type shots struct {
	t   *testing.T
	dir string
}

func (s shots) take(ctx context.Context, name string) {
	s.t.Helper()
	if s.dir == "" {
		return
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		s.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(s.dir, name+".png"), png, 0o644); err != nil {
		s.t.Fatal(err)
	}
}

func browse(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// value runs an action that returns a value (a text, the location).
func value[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// TestConsoleBrowser drives the SMP's web console of `signpost dev` in headless chromium: log in and see the
// demo participant; a malformed certificate is refused next to its field; a participant created with an
// endpoint through the form becomes registered and answers in the SML's DNS (dig); a token created in the
// console works on the admin API until it is revoked there; after logout the pages go to the login page. In the
// authority's console, the participant is found with its NAPTR as served.
func TestConsoleBrowser(t *testing.T) {
	chrome := chromium(t)
	if _, err := exec.LookPath("dig"); err != nil {
		t.Skip("dig is not installed (scripts/install-test-deps.sh)")
	}
	o := startDevInProcess(t)
	pw, err := os.ReadFile(filepath.Join(o.dir, "console-admin.password"))
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(o.dir, "console-admin.password")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("console-admin.password: %v %v", fi.Mode(), err)
	}
	ctx := newBrowser(t, chrome)
	sh := shots{t: t, dir: os.Getenv("SIGNPOST_SCREENSHOTS")}
	smp := "http://" + o.smpAdminAddr
	submit := chromedp.Click(chromedp.CSS("main form button[type=submit]"))

	// Log in: the console sends the browser to the login page and back.
	browse(t, ctx, "open the console", chromedp.Navigate(smp+"/groups"), chromedp.WaitVisible(chromedp.ID("user")))
	if loc := value(t, ctx, "location", chromedp.Location()); !strings.Contains(loc, "/login?next=") {
		t.Fatalf("not sent to the login page: %s", loc)
	}
	sh.take(ctx, "login")
	browse(t, ctx, "log in",
		chromedp.SendKeys(chromedp.ID("user"), devConsoleUser),
		chromedp.SendKeys(chromedp.ID("password"), strings.TrimSpace(string(pw))),
		submit, chromedp.WaitVisible(chromedp.ID("q")))
	if body := value(t, ctx, "groups", chromedp.Text(chromedp.CSS("main"))); !strings.Contains(body, smpapp.DemoParticipant) {
		t.Fatalf("the demo participant is not listed: %s", body)
	}
	sh.take(ctx, "groups")
	browse(t, ctx, "dashboard", chromedp.Navigate(smp+"/"), chromedp.WaitVisible(chromedp.CSS("h1")))
	sh.take(ctx, "dashboard")

	// A malformed certificate: the API's error next to the certificate field.
	participant := "iso6523-actorid-upis::0088:5790000000123"
	fill := func(cert string) []chromedp.Action[chromedp.Void] {
		steps := []chromedp.Action[chromedp.Void]{
			chromedp.Navigate(smp + "/groups/new"), chromedp.WaitVisible(chromedp.ID("p")),
			chromedp.SetValue(chromedp.ID("p"), participant),
			chromedp.SetValue(chromedp.ID("doctype"), smpapp.DemoDocumentType),
			chromedp.SetValue(chromedp.ID("process"), smpapp.DemoProcess),
			chromedp.SetValue(chromedp.ID("address"), "https://ap.browser.test/as4"),
		}
		if cert != "" {
			steps = append(steps, chromedp.SetValue(chromedp.ID("cert"), cert))
		}
		return steps
	}
	browse(t, ctx, "malformed certificate", append(fill("-----BEGIN CERTIFICATE-----\nYmxhY2VydA==\n-----END CERTIFICATE-----\n"),
		submit, chromedp.WaitVisible(chromedp.ID("cert-err")))...)
	if e := value(t, ctx, "certificate error", chromedp.Text(chromedp.ID("cert-err"))); !strings.Contains(e, "Endpoint Certificate: not a base64 DER X.509 certificate") {
		t.Fatalf("certificate error: %q", e)
	}
	sh.take(ctx, "form-error")

	// The participant with its endpoint, the certificate uploaded as a PEM file.
	apPEM := filepath.Join(o.dir, "pki", "ap.pem")
	browse(t, ctx, "create the participant", append(fill(""),
		chromedp.SetUploadFiles(chromedp.ID("certfile"), []string{apPEM}),
		submit, chromedp.WaitVisible(chromedp.ID("reg-state")))...)
	state := ""
	for i := 0; i < 120 && state != "registered"; i++ {
		browse(t, ctx, "group page", chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("reg-state")))
		if state = value(t, ctx, "state", chromedp.Text(chromedp.ID("reg-state"))); state != "registered" {
			time.Sleep(250 * time.Millisecond)
		}
	}
	if state != "registered" {
		t.Fatalf("registration state %q", state)
	}
	if body := value(t, ctx, "group page", chromedp.Text(chromedp.CSS("main"))); !strings.Contains(body, "https://ap.browser.test/as4") || !strings.Contains(body, "Signpost Demo AP") {
		t.Fatalf("group page: %s", body)
	}
	sh.take(ctx, "group")
	// On a phone-sized screen the page fits its width (tables become labelled blocks): nothing to scroll sideways.
	browse(t, ctx, "phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile), chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("reg-state")))
	// (The visual viewport zooms out to show a too-wide page: compare the content with the layout width.)
	if w := value(t, ctx, "width", chromedp.Evaluate[[]int]("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")); len(w) != 2 || w[0] > w[1] || w[1] > 400 {
		t.Fatalf("the group page is %v px wide (content, screen) on a phone", w)
	}
	sh.take(ctx, "group-phone")
	browse(t, ctx, "laptop", chromedp.EmulateViewport(1280, 900))
	id, err := identifier.PEPPOL.Parse(identifier.Participant, participant)
	if err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(o.dnsAddr)
	out, err := exec.Command("dig", "+short", "+time=2", "+tries=2", "-p", port, "@"+host, "NAPTR", identifier.NAPTRName(id, devZone, identifier.SchemeLabel)).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Meta:SMP") || !strings.Contains(string(out), o.smpAddr) {
		t.Fatalf("dig NAPTR: %v\n%s", err, out)
	}

	// The authority's console: the participant found, with its NAPTR as the DNS server serves it (what dig got).
	sml := "http://" + o.smlAdminAddr
	browse(t, ctx, "SML console login", chromedp.Navigate(sml+"/participants"), chromedp.WaitVisible(chromedp.ID("user")),
		chromedp.SendKeys(chromedp.ID("user"), devConsoleUser),
		chromedp.SendKeys(chromedp.ID("password"), strings.TrimSpace(string(pw))),
		submit, chromedp.WaitVisible(chromedp.ID("q")))
	browse(t, ctx, "find the participant", chromedp.SendKeys(chromedp.ID("q"), participant),
		chromedp.Click(chromedp.CSS("main form button[type=submit]")), chromedp.WaitVisible(chromedp.CSS("pre.records")))
	records := value(t, ctx, "records", chromedp.Text(chromedp.CSS("pre.records")))
	naptr := strings.Fields(strings.TrimSpace(string(out)))
	if len(naptr) < 6 || !strings.Contains(records, identifier.NAPTRName(id, devZone, identifier.SchemeLabel)+" ") ||
		!strings.Contains(records, "IN NAPTR "+strings.Join(naptr[:6], " ")) {
		t.Fatalf("SML console records:\n%s\ndig: %s", records, out)
	}
	if body := value(t, ctx, "participant page", chromedp.Text(chromedp.CSS("main"))); !strings.Contains(body, "SMP-DEV") {
		t.Fatalf("owning SMP not shown: %s", body)
	}
	sh.take(ctx, "sml-participant")
	browse(t, ctx, "SML pages", chromedp.Navigate(sml+"/"), chromedp.WaitVisible(chromedp.CSS("h1")))
	sh.take(ctx, "sml-domains")
	browse(t, ctx, "SML SMPs", chromedp.Navigate(sml+"/smps"), chromedp.WaitVisible(chromedp.CSS("table")))
	sh.take(ctx, "sml-smps")

	// A token created in the console works until it is revoked in the console.
	browse(t, ctx, "create a token",
		chromedp.Navigate(smp+"/users"), chromedp.WaitVisible(chromedp.ID("token-user")),
		chromedp.SendKeys(chromedp.ID("token-user"), "browser-test"),
		chromedp.Click(chromedp.CSS(`form[action="/tokens"] input[name=admin]`)),
		chromedp.Click(chromedp.CSS(`form[action="/tokens"] button`)),
		chromedp.WaitVisible(chromedp.ID("token-value")))
	tok := value(t, ctx, "token", chromedp.Text(chromedp.ID("token-value")))
	if !strings.HasPrefix(tok, "spt_") {
		t.Fatalf("token %q", tok)
	}
	api := func() int {
		req, _ := http.NewRequest(http.MethodGet, smp+"/api/v1/status", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := api(); code != http.StatusOK {
		t.Fatalf("the new token on the API: %d", code)
	}
	sum := sha256.Sum256([]byte(tok))
	browse(t, ctx, "revoke the token",
		chromedp.Navigate(smp+"/users"),
		chromedp.Click(chromedp.CSS(`button[aria-label="Revoke token `+hex.EncodeToString(sum[:])[:16]+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(".flash")))
	sh.take(ctx, "users")
	if code := api(); code != http.StatusUnauthorized {
		t.Fatalf("the revoked token on the API: %d", code)
	}

	// Log out: every page goes to the login page again.
	browse(t, ctx, "log out", chromedp.Click(chromedp.CSS(`header form button`)), chromedp.WaitVisible(chromedp.ID("user")))
	for _, path := range []string{"/", "/groups", "/users"} {
		browse(t, ctx, "after logout", chromedp.Navigate(smp+path), chromedp.WaitVisible(chromedp.ID("user")))
		if loc := value(t, ctx, "location", chromedp.Location()); !strings.Contains(loc, "/login") {
			t.Fatalf("%s after logout: %s", path, loc)
		}
	}
}
