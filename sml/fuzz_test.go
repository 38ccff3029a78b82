package sml

import (
	"bytes"
	"testing"
)

// FuzzReadImport: any input gives batches or an error naming a line, never a panic; the participants of all
// batches are the participant lines.
func FuzzReadImport(f *testing.F) {
	f.Add([]byte(`{"type":"smp","id":"S","domain":"sml.test","logical_address":"http://s","owner":"o"}` + "\n" + `{"type":"participant","id":"a::b","smp":"S"}`))
	f.Add([]byte("# c\n\n{\"type\":\"participant\"}\n{"))
	f.Fuzz(func(t *testing.T, data []byte) {
		n := 0
		_ = ReadImport(bytes.NewReader(data), 2, func(b ImportBatch) error {
			if len(b.Participants) > 2 || len(b.Participants) != len(b.ParticipantLines) || len(b.SMPs) != len(b.SMPLines) {
				t.Fatalf("batch shape %d/%d participants, %d/%d SMPs", len(b.Participants), len(b.ParticipantLines), len(b.SMPs), len(b.SMPLines))
			}
			n += len(b.Participants)
			return nil
		})
	})
}
