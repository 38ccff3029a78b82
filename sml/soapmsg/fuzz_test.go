package soapmsg_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/signpost-project/signpost/sml/soap/soaptest"
	"github.com/signpost-project/signpost/sml/soapmsg"
)

// FuzzDecodeRequest feeds arbitrary bytes to the request decoder: it must never panic, must answer either a
// request with a body of its operation's type or a *DecodeError, and must keep to its limits.
func FuzzDecodeRequest(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(soaptest.Dir(f), "requests", "*.xml"))
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add(deep(40))
	f.Add([]byte(`<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Header><x S:mustUnderstand="1"/></S:Header><S:Body><ec:IsAlive xmlns:ec="ec:services:wsdl:BDMSL:data:1.0"/></S:Body></S:Envelope>`))
	lim := soapmsg.Limits{MaxDepth: 16, MaxElements: 256}
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := soapmsg.DecodeRequest(bytes.NewReader(data), lim)
		if err != nil {
			var de *soapmsg.DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("error %T %v is not a *DecodeError", err, err)
			}
			if de.Msg == "" {
				t.Fatal("empty DecodeError message")
			}
			return
		}
		if req.Op == soapmsg.OpNone || req.Body == nil {
			t.Fatalf("request without operation or body: %+v", req)
		}
		if soapmsg.OperationFor(req.Op.Element()) != req.Op {
			t.Fatalf("operation %v does not match its element", req.Op)
		}
	})
}
