package sml

import (
	"bytes"
	"testing"
	"time"

	"github.com/signpost-project/signpost/identifier"
)

// FuzzParticipantRecord: decoding arbitrary stored bytes never panics, and encoding round-trips.
func FuzzParticipantRecord(f *testing.F) {
	p := Participant{ID: identifier.ID{Scheme: "iso6523-actorid-upis", Value: "0088:1"}, SMPID: "SMP-1", Service: "Meta:SMP",
		Domain: "sml.test.", Created: time.Unix(1, 2), Updated: time.Unix(3, 4)}
	f.Add(participantKey(p.Domain, p.ID), encodeParticipant(p))
	f.Add([]byte("a\x00b\x00c"), []byte{1, 200, 200, 200})
	f.Fuzz(func(t *testing.T, key, v []byte) {
		got, err := decodeParticipant(key, v)
		if err != nil {
			return
		}
		again, err := decodeParticipant(participantKey(got.Domain, got.ID), encodeParticipant(got))
		if err != nil || again.SMPID != got.SMPID || again.Service != got.Service || !again.Created.Equal(got.Created) || !again.Updated.Equal(got.Updated) {
			t.Fatalf("round trip: %+v -> %+v, %v", got, again, err)
		}
	})
}

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
