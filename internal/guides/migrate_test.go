package guides

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/signpost-project/signpost/internal/pki"
	"github.com/signpost-project/signpost/internal/testnet"
)

// TestMigrationScript runs the export script of the SMP guide ("Moving from phoss-SMP or DomiSMP") against a
// Signpost SMP standing in for the old SMP (the script uses only the standard read API), imports the directory it
// writes into a new store, and checks that the new store holds the same service metadata as the import that
// filled the old one.
func TestMigrationScript(t *testing.T) {
	bin := signpostBinary(t)
	bash := tool(t, "bash")
	tool(t, "curl") // the script calls these by name; a missing one fails here, clearly
	tool(t, "xmllint")
	var script string
	for _, b := range fencedBlocks(t, "guide-smp.md") {
		if strings.HasPrefix(strings.TrimSpace(b.text), "old=https://old-smp.example.org;") {
			script = b.text
		}
	}
	if script == "" {
		t.Fatal("docs/guide-smp.md: no export script (a sh block starting with old=https://old-smp.example.org;)")
	}

	dir := t.TempDir()
	files, _, err := pki.EnsureDev(dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	oldAddr := testnet.FreeAddr(t)
	oldCfg := guideSMPConfig(t, dir, files, oldAddr, "http://"+oldAddr)
	importGuideData(t, bin, oldCfg, files)
	startSMP(t, bin, oldCfg, oldAddr)

	work := t.TempDir()
	if err := os.WriteFile(filepath.Join(work, "participants.txt"), []byte(guideParticipant+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	script = strings.Replace(script, "old=https://old-smp.example.org;", "set -euo pipefail; old=http://"+oldAddr+";", 1)
	cmd := exec.Command(bash, "-c", script)
	cmd.Dir = work
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the guide's export script: %v\n%s", err, out)
	}
	exported, _ := filepath.Glob(filepath.Join(work, "export", "*.xml"))
	if len(exported) != 2 {
		t.Fatalf("the export script wrote %d documents (%v), want the service group and one service metadata", len(exported), exported)
	}

	newDir := t.TempDir()
	newCfg := guideSMPConfig(t, newDir, files, testnet.FreeAddr(t), "https://smp.example.org")
	if out, err := exec.Command(bin, "smp", "import", "--config", newCfg, filepath.Join(work, "export")).CombinedOutput(); err != nil {
		t.Fatalf("signpost smp import of the exported directory: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "smp", "export", "--config", newCfg, "-").Output()
	if err != nil {
		t.Fatalf("signpost smp export: %v", err)
	}
	want := metadataRecords(t, guideImport(t, files))
	got := metadataRecords(t, string(out))
	if len(want) != 1 || !reflect.DeepEqual(got, want) {
		t.Errorf("after the migration the new SMP holds\n%v\nwant\n%v", got, want)
	}
}

// metadataRecords returns the service_metadata records of a JSON Lines import or export, decoded.
func metadataRecords(t *testing.T, jsonl string) []any {
	t.Helper()
	var out []any
	for _, line := range strings.Split(jsonl, "\n") {
		if line = strings.TrimSpace(line); line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		var rec map[string]any
		dec := json.NewDecoder(bytes.NewReader([]byte(line)))
		if err := dec.Decode(&rec); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		if m, ok := rec["service_metadata"]; ok {
			out = append(out, m)
		}
	}
	return out
}
