package boltrepo

import (
	"testing"
	"time"

	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/sml"
)

// FuzzParticipantRecord: decoding arbitrary stored bytes never panics, and encoding round-trips.
func FuzzParticipantRecord(f *testing.F) {
	p := sml.Participant{ID: identifier.ID{Scheme: "iso6523-actorid-upis", Value: "0088:1"}, SMPID: "SMP-1", Service: "Meta:SMP",
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
