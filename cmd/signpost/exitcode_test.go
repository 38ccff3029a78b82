package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/signpost-project/signpost/internal/testnet"
	"github.com/signpost-project/signpost/lookup"
	"github.com/signpost-project/signpost/sml"
	"github.com/signpost-project/signpost/sml/admin"
	"github.com/signpost-project/signpost/smp"
	"github.com/signpost-project/signpost/store"
)

// exitConstants returns the exit code constants declared in exitcode.go (exit* names with a literal value, except
// the lookup's base offset), by parsing the file: a constant added without a table row fails the test.
func exitConstants(t *testing.T) map[string]int {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "exitcode.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok || len(vs.Values) != 1 {
			return true
		}
		lit, ok := vs.Values[0].(*ast.BasicLit)
		if !ok || !strings.HasPrefix(vs.Names[0].Name, "exit") || vs.Names[0].Name == "exitLookupBase" {
			return true
		}
		v, err := strconv.Atoi(lit.Value)
		if err != nil {
			t.Fatalf("%s = %s", vs.Names[0].Name, lit.Value)
		}
		out[vs.Names[0].Name] = v
		return true
	})
	if len(out) < 10 {
		t.Fatalf("found only %d exit code constants in exitcode.go", len(out))
	}
	return out
}

var helpRow = regexp.MustCompile(`^\s+(\d+)\s+(\S+)\s+(.+)$`)

// TestExitCodeTable: the table in --help lists every code constant once with its row, codes are unique, 0 to 10
// keep the lookup's contract (docs/lookup.md), and README.md has the same table.
func TestExitCodeTable(t *testing.T) {
	rows := exitCodes()
	byCode := map[int]exitCodeRow{}
	names := map[string]bool{}
	for _, r := range rows {
		if _, dup := byCode[r.code]; dup || names[r.name] {
			t.Errorf("exit code %d (%s) is not unique", r.code, r.name)
		}
		byCode[r.code], names[r.name] = r, true
	}
	for name, v := range exitConstants(t) {
		if _, ok := byCode[v]; !ok {
			t.Errorf("constant %s = %d has no row in the exit code table", name, v)
		}
	}
	// The lookup's contract: 0 found, 1 other, 2 usage, 3..10 its first eight kinds in order; the kinds added
	// later have rows of their own above 21.
	if exitOK != 0 || exitInternal != 1 || exitUsage != 2 {
		t.Error("codes 0, 1, 2 moved")
	}
	for i, k := range lookup.Kinds() {
		c := lookupExitCode(k)
		if (i < 8 && c != 3+i) || (i >= 8 && c <= exitForbidden) || byCode[c].name != k.String() || !strings.HasPrefix(byCode[c].meaning, "lookup only") {
			t.Errorf("lookup kind %s: code %d, row %+v", k, c, byCode[c])
		}
	}
	for _, r := range rows {
		if r.code > 2 && r.code <= 10 && !strings.HasPrefix(r.meaning, "lookup only") {
			t.Errorf("row %+v is in the lookup's range", r)
		}
	}
	lookupDoc, err := os.ReadFile("../../docs/lookup.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range lookup.Kinds() {
		if !strings.Contains(string(lookupDoc), fmt.Sprintf("| %d | `%s` |", lookupExitCode(k), k)) {
			t.Errorf("docs/lookup.md has no row for %d %s", lookupExitCode(k), k)
		}
	}

	// --help of the root command: every row, in order, and nothing else in the section.
	out, _, code := runSML(t, context.Background(), "--help")
	if code != 0 {
		t.Fatalf("--help: exit %d", code)
	}
	_, section, ok := strings.Cut(out, "Exit codes")
	if !ok {
		t.Fatalf("--help has no exit code table:\n%s", out)
	}
	var got []exitCodeRow
	sc := bufio.NewScanner(strings.NewReader(section))
	sc.Scan() // the heading line
	for sc.Scan() {
		m := helpRow.FindStringSubmatch(sc.Text())
		if m == nil {
			break
		}
		c, _ := strconv.Atoi(m[1])
		got = append(got, exitCodeRow{c, m[2], m[3]})
	}
	if fmt.Sprint(got) != fmt.Sprint(rows) {
		t.Errorf("--help table:\n%v\nwant\n%v", got, rows)
	}

	// README.md: one row per code, "| code | `name` | meaning |".
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		want := fmt.Sprintf("| %d | `%s` | %s |", r.code, r.name, r.meaning)
		if !strings.Contains(string(readme), want) {
			t.Errorf("README.md lacks the row\n%s", want)
		}
	}
	if n := regexp.MustCompile("(?m)^\\| \\d+ \\| `[a-z-]+` \\|").FindAll(readme, -1); len(n) != len(rows) {
		t.Errorf("README.md has %d exit code rows, the table %d", len(n), len(rows))
	}
}

// TestExitCodesOfFailures runs commands that fail in each way and checks the documented code.
func TestExitCodesOfFailures(t *testing.T) {
	dir := t.TempDir()
	cfg, _ := smlConfig(t, dir)
	tok := filepath.Join(dir, "t.token")
	if err := os.WriteFile(tok, []byte("a-token-of-some-length\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	badConf := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(badConf, []byte("domains:\n  - zone: sml.test\nnope: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	badLine := filepath.Join(dir, "bad.jsonl")
	if err := os.WriteFile(badLine, []byte(`{"type":"zone"}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	closed := closedAddr(t)

	// Stores this build cannot use: one of a newer schema, one that is not a bolt file.
	newer := filepath.Join(dir, "newer")
	if err := os.MkdirAll(newer, 0o700); err != nil {
		t.Fatal(err)
	}
	newerCfg := storeConfig(t, cfg, filepath.Join(newer, "sml.db"))
	db, err := bolt.Open(filepath.Join(newer, "sml.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket([]byte("meta"))
		if err != nil {
			return err
		}
		return b.Put([]byte("schema-version"), binary.BigEndian.AppendUint64(nil, store.SchemaVersion+1))
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	damaged := filepath.Join(dir, "damaged")
	if err := os.MkdirAll(damaged, 0o700); err != nil {
		t.Fatal(err)
	}
	damagedCfg := storeConfig(t, cfg, filepath.Join(damaged, "sml.db"))
	if err := os.WriteFile(filepath.Join(damaged, "sml.db"), bytes.Repeat([]byte("x"), 70000), 0o600); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name string
		args []string
		want int
		says string
	}{
		{"unknown command", []string{"nope"}, exitUsage, `unknown command "nope"`},
		{"unknown subcommand", []string{"sml", "nope"}, exitUsage, `unknown command "nope" for "signpost sml"`},
		{"unknown flag", []string{"sml", "status", "--bogus"}, exitUsage, "bogus"},
		{"extra argument", []string{"sml", "status", "extra"}, exitUsage, "extra"},
		{"missing argument", []string{"sml", "export-zone", "--config", cfg}, exitUsage, "accepts 1 arg"},
		{"required flag", []string{"smp", "token", "create", "--config", cfg}, exitUsage, `"user"`},
		{"--admin-addr alone", []string{"sml", "status", "--admin-addr", closed}, exitUsage, "--token-file"},
		{"lookup usage", []string{"lookup", "--policy", "x", "iso6523-actorid-upis::0088:1"}, exitUsage, "--policy"},
		{"configuration invalid", []string{"sml", "status", "--config", badConf}, exitConfig, `unknown key "nope"`},
		{"configuration missing", []string{"sml", "status", "--config", filepath.Join(dir, "none.yaml")}, exitConfig, "none.yaml"},
		{"SMP configuration missing", []string{"smp", "user", "list", "--config", filepath.Join(dir, "none.yaml")}, exitConfig, "none.yaml"},
		{"import file missing", []string{"sml", "import", "--config", cfg, filepath.Join(dir, "none.jsonl")}, exitFile, "none.jsonl"},
		{"output not writable", []string{"sml", "export-zone", "--config", cfg, "sml.test", "-o", filepath.Join(dir, "no", "such", "dir", "z")}, exitFile, "no such file"},
		{"token file missing", []string{"sml", "status", "--admin-addr", closed, "--token-file", filepath.Join(dir, "none.token")}, exitFile, "none.token"},
		{"store of a newer version", []string{"sml", "status", "--config", newerCfg}, exitStoreVersion, "schema version"},
		{"store damaged", []string{"sml", "status", "--config", damagedCfg}, exitStoreDamaged, "invalid database"},
		{"admin API down", []string{"sml", "status", "--admin-addr", closed, "--token-file", tok}, exitUnreachable, closed},
		{"bad import line", []string{"sml", "import", "--config", cfg, badLine}, exitBadRequest, "line 1"},
		{"unknown zone", []string{"sml", "export-zone", "--config", cfg, "nope.test"}, exitNotFound, "not a zone"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := runSML(t, context.Background(), tc.args...)
			if code != tc.want || !strings.Contains(errOut, tc.says) {
				t.Errorf("%q: exit %d, want %d; stderr should say %q\n%s%s", tc.args, code, tc.want, tc.says, out, errOut)
			}
		})
	}
}

func storeConfig(t *testing.T, cfg, storePath string) string {
	t.Helper()
	b, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`(?m)^  path: .*$`)
	out := filepath.Join(filepath.Dir(storePath), "sml.yaml")
	if err := os.WriteFile(out, re.ReplaceAll(b, []byte("  path: "+storePath)), 0o600); err != nil {
		t.Fatal(err)
	}
	return out
}

// closedAddr is a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	return testnet.FreeAddr(t)
}

// TestExitCodeOfKinds covers the kinds no command here can produce on demand: each domain kind, store sentinel
// and admin error maps to its row.
func TestExitCodeOfKinds(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
	}{
		{nil, exitOK},
		{errors.New("something"), exitInternal},
		{&sml.Error{Kind: sml.KindInternal, Msg: "x"}, exitInternal},
		{&sml.Error{Kind: sml.KindBadRequest}, exitBadRequest},
		{&sml.Error{Kind: sml.KindNotFound}, exitNotFound},
		{&sml.Error{Kind: sml.KindUnauthorized}, exitForbidden},
		{fmt.Errorf("wrapped: %w", &sml.Error{Kind: sml.KindAlreadyExists}), exitAlreadyExists},
		{&smp.Error{Kind: smp.KindInvalid}, exitBadRequest},
		{&smp.Error{Kind: smp.KindNotFound}, exitNotFound},
		{&smp.Error{Kind: smp.KindForbidden}, exitForbidden},
		{&smp.Error{Kind: smp.KindUnauthorized}, exitUnauthorized},
		{&smp.Error{Kind: smp.KindInternal}, exitInternal},
		{fmt.Errorf("x: %w", store.ErrLocked), exitStoreLocked},
		{fmt.Errorf("x: %w", store.ErrSchemaVersion), exitStoreVersion},
		{fmt.Errorf("x: %w", store.ErrUpgrade), exitStoreDamaged},
		{fmt.Errorf("x: %w", admin.ErrUnreachable), exitUnreachable},
		{fmt.Errorf("x: %w", admin.ErrUnauthorized), exitUnauthorized},
		{fmt.Errorf("admin: %w", context.Canceled), exitInterrupted},
		{&sml.Error{Kind: sml.KindInternal, Err: context.Canceled}, exitInterrupted},
		{&lookup.Error{Kind: lookup.DNSFailure}, 4},
		{&lookup.Error{Kind: lookup.HTTPRefused}, exitLookupHTTPRefused},
		{fmt.Errorf("x: %w", &lookup.Error{Kind: lookup.SMPTLSUntrusted}), exitLookupSMPTLSUntrusted},
		{usageErrorf("x"), exitUsage},
		{configError(errors.New("x")), exitConfig},
		{fileError(errors.New("x")), exitFile},
	} {
		if got := exitCode(tc.err); got != tc.want {
			t.Errorf("exitCode(%#v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}

// TestCommandContextCancels: a command run with a cancelled context (as after Ctrl-C) exits "interrupted".
func TestCommandContextCancels(t *testing.T) {
	dir := t.TempDir()
	cfg, _ := smlConfig(t, dir)
	file := filepath.Join(dir, "in.jsonl")
	if _, errOut, code := runSML(t, context.Background(), "sml", "import", "--generate", "10", file); code != 0 {
		t.Fatal(errOut)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if out, errOut, code := runSML(t, ctx, "sml", "import", "--config", cfg, file); code != exitInterrupted {
		t.Errorf("import with a cancelled context: exit %d, want %d\n%s%s", code, exitInterrupted, out, errOut)
	}
}

// TestCtrlCInterruptsImport runs the built binary's `sml import` through a running server, feeding the file from a
// FIFO that stays open after the first batch; SIGINT then ends it with the "interrupted" code and the batch stays
// committed.
func TestCtrlCInterruptsImport(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	_, c := smlConfig(t, dir)
	startSMLServe(t, c)
	fifo := filepath.Join(dir, "in.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "sml", "import", "--admin-addr", c.Admin.Listen, "--token-file", c.Admin.TokenFile,
		"--batch", "50", fifo)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w, err := os.OpenFile(fifo, os.O_WRONLY, 0) // blocks until the command opens it
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	var file bytes.Buffer
	if err := sml.WriteGenerated(&file, 50, 1, "sml.test.", "CN=SMP-GEN,O=Signpost test,C=BE:1"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(file.Bytes()); err != nil {
		t.Fatal(err)
	}
	tok, err := admin.ReadTokenFile(c.Admin.TokenFile)
	if err != nil {
		t.Fatal(err)
	}
	client := &admin.Client{Addr: c.Admin.Listen, Token: tok}
	for i := 0; ; i++ {
		st, err := client.Status(ctx)
		if err == nil && st.Participants == 50 {
			break
		}
		if i == 1000 {
			t.Fatalf("the first batch was not committed: %+v %v\n%s", st, err, stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitInterrupted {
		t.Fatalf("after SIGINT: %v, want exit %d\n%s", err, exitInterrupted, stderr.String())
	}
	if st, err := client.Status(ctx); err != nil || st.Participants != 50 {
		t.Errorf("after the interrupted import: %+v %v", st, err)
	}
}
