package pki

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// TestDevMutualTLS runs real handshakes on 127.0.0.1 with the dev PKI: the SML
// server certificate and the SMP client certificate, trusted through ca.pem,
// as the SML management API and the SMP's SOAP client use them.
func TestDevMutualTLS(t *testing.T) {
	f, _, err := EnsureDev(t.TempDir(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	server, err := LoadKeyPair(f.SML, f.SMLKey)
	if err != nil {
		t.Fatal(err)
	}
	smp, err := LoadKeyPair(f.SMP, f.SMPKey)
	if err != nil {
		t.Fatal(err)
	}
	caPool, err := LoadCertPool(f.CA)
	if err != nil {
		t.Fatal(err)
	}
	foreignCA := mustRoot(t, "Foreign Root")
	foreignClient := mustIssue(t, foreignCA, SMPCert, "SMP-DEV")
	foreignClient.Chain = nil

	t.Run("SMP client certificate", func(t *testing.T) {
		peer, srvErr, cliErr := handshake(t, server, caPool, smp, caPool, "")
		if srvErr != nil || cliErr != nil {
			t.Fatalf("handshake: server: %v, client: %v", srvErr, cliErr)
		}
		if got, want := Identity(peer), "CN=SMP-DEV,O=Signpost Development:"+smp.Cert.SerialNumber.Text(16); got != want {
			t.Errorf("server saw client %q, want %q", got, want)
		}
	})
	t.Run("AP client certificate", func(t *testing.T) {
		ap, err := LoadKeyPair(f.AP, f.APKey)
		if err != nil {
			t.Fatal(err)
		}
		if _, srvErr, cliErr := handshake(t, server, caPool, ap, caPool, "localhost"); srvErr != nil || cliErr != nil {
			t.Fatalf("handshake: server: %v, client: %v", srvErr, cliErr)
		}
	})
	t.Run("client certificate from a foreign CA", func(t *testing.T) {
		_, srvErr, cliErr := handshake(t, server, caPool, foreignClient, caPool, "")
		if srvErr == nil {
			t.Fatal("server accepted a client certificate from a foreign CA")
		}
		if !strings.Contains(srvErr.Error(), "unknown authority") {
			t.Errorf("server error %q, want an unknown-authority failure", srvErr)
		}
		if cliErr == nil {
			t.Error("client saw no error")
		}
	})
	t.Run("no client certificate", func(t *testing.T) {
		if _, srvErr, _ := handshake(t, server, caPool, nil, caPool, ""); srvErr == nil {
			t.Fatal("server accepted a client without certificate")
		}
	})
	t.Run("server checked against a foreign CA", func(t *testing.T) {
		_, _, cliErr := handshake(t, server, caPool, smp, foreignCA.Pool(), "")
		if cliErr == nil || !strings.Contains(cliErr.Error(), "unknown authority") {
			t.Fatalf("client error %v, want an unknown-authority failure", cliErr)
		}
	})
	t.Run("server name not in the certificate", func(t *testing.T) {
		_, _, cliErr := handshake(t, server, caPool, smp, caPool, "sml.example")
		if cliErr == nil {
			t.Fatal("client accepted the server for a name it is not valid for")
		}
	})
}

// handshake runs one mutual-TLS exchange on 127.0.0.1:0 and returns the
// client certificate the server verified and both sides' errors. serverName
// empty means dialling by IP address (checked against the IP SAN).
func handshake(t *testing.T, server *KeyPair, clientCAs *x509.CertPool, client *KeyPair, rootCAs *x509.CertPool, serverName string) (*x509.Certificate, error, error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	type result struct {
		peer *x509.Certificate
		err  error
	}
	done := make(chan result, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			done <- result{err: err}
			return
		}
		defer conn.Close()
		tc := tls.Server(conn, &tls.Config{
			Certificates: []tls.Certificate{server.TLSCertificate()},
			ClientAuth:   tls.RequireAndVerifyClientCert,
			ClientCAs:    clientCAs,
			MinVersion:   tls.VersionTLS12,
		})
		if err := tc.HandshakeContext(ctx); err != nil {
			done <- result{err: err}
			return
		}
		// Prove the connection works: echo one line.
		if _, err := tc.Write([]byte("ok\n")); err != nil {
			done <- result{err: err}
			return
		}
		done <- result{peer: tc.ConnectionState().PeerCertificates[0]}
	}()

	cfg := &tls.Config{RootCAs: rootCAs, ServerName: serverName, MinVersion: tls.VersionTLS12}
	if client != nil {
		// Always present the certificate, even when the server's list of
		// acceptable CAs does not name its issuer (crypto/tls would otherwise
		// send none), so the server's verification is what is tested.
		cert := client.TLSCertificate()
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil }
	}
	addr := ln.Addr().String()
	if serverName == "localhost" {
		_, port, _ := net.SplitHostPort(addr)
		addr = net.JoinHostPort("localhost", port)
	}
	d := tls.Dialer{Config: cfg, NetDialer: &net.Dialer{Timeout: 5 * time.Second}}
	var cliErr error
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		cliErr = err
	} else {
		// With TLS 1.3 a rejected client certificate shows on the first read.
		buf := make([]byte, 3)
		if _, err := io.ReadFull(conn, buf); err != nil {
			cliErr = err
		} else if string(buf) != "ok\n" {
			cliErr = errors.New("unexpected data " + string(buf))
		}
		conn.Close()
	}
	ln.Close()
	r := <-done
	return r.peer, r.err, cliErr
}
