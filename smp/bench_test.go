package smp_test

import (
	"net/http"
	"testing"
)

type nullWriter struct{ h http.Header }

func (w *nullWriter) Header() http.Header         { return w.h }
func (w *nullWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *nullWriter) WriteHeader(int)             {}

// BenchmarkHandlerGet measures the read handler alone on a signed ServiceMetadata (served from the cache).
func BenchmarkHandlerGet(b *testing.B) {
	f := newFixture(b, fixtureOpts{})
	f.seed(demoDocType)
	h := f.srv.Handler
	req, err := http.NewRequest(http.MethodGet, "http://x/"+seg(demoParticipant)+"/services/"+seg(demoDocType), nil)
	if err != nil {
		b.Fatal(err)
	}
	req.RequestURI = req.URL.RequestURI()
	w := &nullWriter{h: http.Header{}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		clear(w.h)
		h.ServeHTTP(w, req)
	}
}
