package identifier

import (
	"bufio"
	"os"
	"strings"
	"testing"
)

const vectorsFile = "../testdata/identifier/vectors.tsv"

type vector struct {
	line                              int
	mode, scheme, value, naptr, cname string
}

func readVectors(t *testing.T) []vector {
	t.Helper()
	f, err := os.Open(vectorsFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var vs []vector
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 5 {
			t.Fatalf("%s:%d: %d columns, want 5", vectorsFile, n, len(f))
		}
		vs = append(vs, vector{n, f[0], f[1], f[2], f[3], f[4]})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(vs) < 9 {
		t.Fatalf("only %d vectors in %s", len(vs), vectorsFile)
	}
	return vs
}

func TestVectors(t *testing.T) {
	const zone = "acc.edelivery.tech.ec.europa.eu"
	for _, v := range readVectors(t) {
		t.Run(v.mode+"/"+v.value, func(t *testing.T) {
			switch v.mode {
			case "scheme-label":
				id, err := PEPPOL.New(Participant, v.scheme, v.value)
				if err != nil {
					t.Fatalf("line %d: %v", v.line, err)
				}
				for _, in := range []string{v.value, id.Value, strings.ToUpper(v.value)} {
					if got := NAPTRLabel(in); got != v.naptr {
						t.Errorf("line %d: NAPTRLabel(%q) = %s, want %s", v.line, in, got, v.naptr)
					}
					if got := CNAMELabel(in); got != v.cname {
						t.Errorf("line %d: CNAMELabel(%q) = %s, want %s", v.line, in, got, v.cname)
					}
				}
				raw := ID{v.scheme, v.value} // not canonicalised: the name functions fold themselves
				for _, x := range []ID{id, raw} {
					want := v.naptr + "." + v.scheme + "." + zone + "."
					if got := NAPTRName(x, zone, SchemeLabel); got != want {
						t.Errorf("line %d: NAPTRName = %s, want %s", v.line, got, want)
					}
					want = v.cname + "." + v.scheme + "." + zone + "."
					if got := CNAMEName(x, zone+".", SchemeLabel); got != want {
						t.Errorf("line %d: CNAMEName = %s, want %s", v.line, got, want)
					}
				}
			case "full-id":
				id, err := OASIS.New(Participant, v.scheme, v.value)
				if err != nil {
					t.Fatalf("line %d: %v", v.line, err)
				}
				want := v.naptr + "." + zone + "."
				if got := NAPTRName(id, zone, FullID); got != want {
					t.Errorf("line %d: NAPTRName(%v, full-id) = %s, want %s", v.line, id, got, want)
				}
				// the same party without a scheme: the value is the whole ebCore URN
				urn := ID{"", v.scheme + ":" + v.value}
				if got := NAPTRName(urn, zone, FullID); got != want {
					t.Errorf("line %d: NAPTRName(%v, full-id) = %s, want %s", v.line, urn, got, want)
				}
				if v.cname != "-" {
					t.Errorf("line %d: full-id has no CNAME, vector says %s", v.line, v.cname)
				}
				if got := CNAMEName(id, zone, FullID); got != "" {
					t.Errorf("line %d: CNAMEName in full-id mode = %q, want empty", v.line, got)
				}
			case "negative":
				id, err := PEPPOL.New(Participant, v.scheme, v.value)
				if err != nil {
					t.Fatalf("line %d: %v", v.line, err)
				}
				name := NAPTRName(id, zone, SchemeLabel)
				if strings.Contains(name, v.naptr) {
					t.Errorf("line %d: NAPTRName = %s contains the forbidden label %s (hash of scheme::value)", v.line, name, v.naptr)
				}
				// the forbidden label is what hashing the whole identifier would give
				if got := NAPTRLabel(id.String()); got != v.naptr {
					t.Errorf("line %d: NAPTRLabel(%q) = %s; the negative vector is not what it claims", v.line, id, got)
				}
			default:
				t.Fatalf("line %d: unknown mode %q", v.line, v.mode)
			}
		})
	}
}

func TestNames(t *testing.T) {
	id := ID{SchemeISO6523, "9915:test"}
	const label = "eh5boavaktmbgzyh2a63dz4qov33fvp5nsdvqklucfraayoodw6a"
	cases := []struct {
		name string
		got  string
		want string
	}{
		{"phax test expectation", NAPTRName(id, "participant.sml.test.tech.peppol.org", SchemeLabel), label + ".iso6523-actorid-upis.participant.sml.test.tech.peppol.org."},
		{"trailing dot", NAPTRName(id, "sml.test.", SchemeLabel), label + ".iso6523-actorid-upis.sml.test."},
		{"upper-case zone and scheme", NAPTRName(ID{"ISO6523-ACTORID-UPIS", "9915:TEST"}, "SML.Test", SchemeLabel), label + ".iso6523-actorid-upis.sml.test."},
		{"root zone", NAPTRName(id, ".", SchemeLabel), label + ".iso6523-actorid-upis."},
		{"empty zone", NAPTRName(id, "", SchemeLabel), label + ".iso6523-actorid-upis."},
		{"scheme-less in scheme-label mode", NAPTRName(ID{"", "9915:test"}, "sml.test", SchemeLabel), label + ".sml.test."},
		{"full-id, non-ebCore scheme uses ::", NAPTRName(id, "sml.test", FullID), NAPTRLabel("iso6523-actorid-upis::9915:test") + ".sml.test."},
		{"full-id, ebCore scheme uses :", NAPTRName(ID{strings.ToUpper(ebCore), "0088:4035811991021"}, "sml.test", FullID), "i3qyb36ctayrfgthbycqzdtojfhgazjeglfooe7727egvdwrk5qq.sml.test."},
		{"invalid mode", NAPTRName(id, "sml.test", "cname"), ""},
		{"cname", CNAMEName(id, "sml.test", SchemeLabel), "B-85008b8279e07ab0392da75fa55856a2.iso6523-actorid-upis.sml.test."},
		{"cname invalid mode", CNAMEName(id, "sml.test", ""), ""},
		{"unicode lower-casing", NAPTRLabel("S::ÄB"), NAPTRLabel("s::äb")},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, c.got, c.want)
		}
	}
	// long inputs (beyond the stack buffers) still hash correctly
	long := ID{"s", strings.Repeat("A", 1000)}
	if got, want := NAPTRName(long, "z", SchemeLabel), NAPTRLabel(strings.Repeat("a", 1000))+".s.z."; got != want {
		t.Errorf("long: %s, want %s", got, want)
	}
}

func TestHashModeValid(t *testing.T) {
	for m, want := range map[HashMode]bool{SchemeLabel: true, FullID: true, "": false, "Scheme-Label": false, "cname": false} {
		if m.Valid() != want {
			t.Errorf("HashMode(%q).Valid() = %v", m, !want)
		}
	}
}

func TestNAPTRNameAllocs(t *testing.T) {
	id := ID{SchemeISO6523, "0088:5798000000001"}
	if n := testing.AllocsPerRun(100, func() { NAPTRName(id, "sml.test.", SchemeLabel) }); n > 1 {
		t.Errorf("NAPTRName allocates %v times, want at most 1 (the result)", n)
	}
}

func BenchmarkNAPTRName(b *testing.B) {
	ids := make([]ID, 1024)
	for i := range ids {
		ids[i] = ID{SchemeISO6523, "0088:57980000" + itoa(10000+i)}
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		NAPTRName(ids[i&1023], "participant.sml.prod.tech.peppol.org", SchemeLabel)
	}
}

func BenchmarkCNAMEName(b *testing.B) {
	id := ID{SchemeISO6523, "0088:5798000000001"}
	b.ReportAllocs()
	for b.Loop() {
		CNAMEName(id, "participant.sml.prod.tech.peppol.org", SchemeLabel)
	}
}
