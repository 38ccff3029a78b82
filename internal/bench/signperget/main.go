// Command signperget is a benchmark-only variant of `signpost smp serve`: the same configuration, store, handler
// and listener (TLS, one write per response), with a wrapper that re-signs every signed document on every GET,
// as SMPs that sign at read time do. scripts/bench-smp.sh runs it next to the real server to show what signing at
// write time saves. It is not part of the signpost binary and must never serve anything but a benchmark.
//
// Usage: signperget --config smp.yaml
package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strconv"

	"github.com/beevik/etree"

	"github.com/signpost-project/signpost/conf"
	"github.com/signpost-project/signpost/internal/lifecycle"
	"github.com/signpost-project/signpost/internal/logging"
	smpapp "github.com/signpost-project/signpost/smp/app"
	"github.com/signpost-project/signpost/xmldsig"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "signperget:", err)
		os.Exit(1)
	}
}

func run() error {
	cfgPath := flag.String("config", "", "the SMP configuration (as for signpost smp serve)")
	flag.Parse()
	if *cfgPath == "" {
		return errors.New("--config is required")
	}
	cfg, err := conf.LoadSMP(*cfgPath)
	if err != nil {
		return err
	}
	log, err := logging.New(os.Stderr, cfg.Log.Format, cfg.Log.Level)
	if err != nil {
		return err
	}
	ctx := context.Background()
	a, err := smpapp.New(ctx, cfg, log, nil)
	if err != nil {
		return err
	}
	defer a.Close()
	key, chain, err := smpapp.LoadSigningKey(cfg.Signing)
	if err != nil {
		return err
	}
	rs, err := newResigner(key, chain)
	if err != nil {
		return err
	}
	servers := a.Servers()
	wrapped := false
	for _, s := range servers {
		if h, ok := s.(*lifecycle.HTTP); ok && (h.N == "smp http" || h.N == "smp https") {
			h.Server.Handler = rs.wrap(h.Server.Handler)
			wrapped = true
		}
	}
	if !wrapped {
		return errors.New("the SMP's public listener was not found among its servers (smp/app changed?)")
	}
	g := &lifecycle.Group{Log: log}
	g.Add(servers...)
	if err := g.Start(ctx); err != nil {
		return err
	}
	log.Warn("signperget: benchmark-only server, every signed document is re-signed on every GET", "addr", a.Addr())
	return g.Wait(ctx)
}

// resigner re-signs documents with the SMP's key, in the profile their stored signature uses.
type resigner struct{ smp1, smp2 *xmldsig.Signer }

func newResigner(key crypto.Signer, chain []*x509.Certificate) (*resigner, error) {
	s1, err := xmldsig.NewSigner(key, chain, xmldsig.ProfileSMP1)
	if err != nil {
		return nil, err
	}
	s2, err := xmldsig.NewSigner(key, chain, xmldsig.ProfileSMP2)
	if err != nil {
		return nil, err
	}
	return &resigner{smp1: s1, smp2: s2}, nil
}

// resign parses a signed document, drops its signature and signs it again at the same place with the profile of
// the signature it had (C14N 1.1 for SMP 2.0, C14N 1.0 otherwise). A document without a signature is returned as
// it is (signed false).
func (r *resigner) resign(ctx context.Context, body []byte) (out []byte, signed bool, err error) {
	if !bytes.Contains(body, []byte("SignatureValue")) {
		return body, false, nil
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(body); err != nil {
		return nil, false, err
	}
	root := doc.Root()
	if root == nil {
		return body, false, nil
	}
	var sig *etree.Element
	idx := -1
	for i, c := range root.ChildElements() {
		if c.Tag == "Signature" && c.NamespaceURI() == "http://www.w3.org/2000/09/xmldsig#" {
			sig, idx = c, i
			break
		}
	}
	if sig == nil {
		return body, false, nil
	}
	signer := r.smp1
	if cm := sig.FindElement("./SignedInfo/CanonicalizationMethod"); cm != nil && cm.SelectAttrValue("Algorithm", "") == xmldsig.C14N11 {
		signer = r.smp2
	}
	place := xmldsig.LastChild
	if idx == 1 {
		place = xmldsig.SecondChild
	}
	root.RemoveChild(sig)
	out, err = signer.SignEnvelopedContext(ctx, doc, place)
	return out, err == nil, err
}

// wrap returns next with every successful GET whose body is signed re-signed before it is sent.
func (r *resigner) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodGet {
			next.ServeHTTP(w, req)
			return
		}
		rec := &recorder{h: http.Header{}, status: http.StatusOK}
		next.ServeHTTP(rec, req)
		body := rec.body.Bytes()
		if rec.status == http.StatusOK {
			out, _, err := r.resign(req.Context(), body)
			if err != nil {
				http.Error(w, "signperget: re-signing failed: "+err.Error(), http.StatusInternalServerError)
				return
			}
			body = out
		}
		for k, v := range rec.h {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(rec.status)
		_, _ = w.Write(body)
	})
}

// recorder keeps a response in memory.
type recorder struct {
	h      http.Header
	status int
	wrote  bool
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.h }

func (r *recorder) WriteHeader(status int) {
	if !r.wrote {
		r.status, r.wrote = status, true
	}
}

func (r *recorder) Write(p []byte) (int, error) {
	r.wrote = true
	return r.body.Write(p)
}
