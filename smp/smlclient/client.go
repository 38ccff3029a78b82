// Package smlclient is the SMP's view of its SML: the management calls an SMP makes (register itself, create and
// delete its participants, list them, migrate them, announce a new certificate), over SOAP with mutual TLS
// (package sml/soapmsg), with the SML's faults translated once, here, into the kinds an SMP acts on (Kind).
package smlclient

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/sml/soapmsg"
)

// Kind is what an SML error means to the SMP.
type Kind int

// The kinds.
const (
	// Transient: the SML could not be reached or failed internally; try again later.
	Transient Kind = iota
	// NotFound: the SMP or participant does not exist at the SML.
	NotFound
	// Exists: the SMP or participant exists already (whoever owns it).
	Exists
	// Unauthorized: the SML does not accept this SMP's certificate for the call.
	Unauthorized
	// BadRequest: the SML refuses the request as such (an identifier scheme the domain does not allow, a wrong
	// address, ...); sending it again does not help.
	BadRequest
)

func (k Kind) String() string {
	return [...]string{"transient", "not found", "already exists", "unauthorized", "bad request"}[k]
}

// Error is an SML call that failed.
type Error struct {
	Kind Kind
	Op   string // the operation, e.g. "CreateList"
	Msg  string // the SML's message (its faultstring), or what went wrong on the way
	Err  error  // the underlying error
}

func (e *Error) Error() string { return "SML " + e.Op + ": " + e.Msg }
func (e *Error) Unwrap() error { return e.Err }

// KindOf returns the kind of err: Transient unless it is an *Error of another kind.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Transient
}

// Message returns the SML's own message of err (without the operation), or err's text.
func Message(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Msg
	}
	return err.Error()
}

// translate turns a soapmsg error into an *Error.
func translate(op string, err error) error {
	if err == nil {
		return nil
	}
	var f *soapmsg.Fault
	if !errors.As(err, &f) {
		if errors.Is(err, context.Canceled) {
			return err
		}
		return &Error{Kind: Transient, Op: op, Msg: strings.TrimPrefix(err.Error(), "soapmsg: "), Err: err}
	}
	k := Transient
	switch {
	case soapmsg.IsAlreadyExists(err):
		k = Exists
	case f.Kind == soapmsg.FaultNotFound:
		k = NotFound
	case f.Kind == soapmsg.FaultUnauthorized:
		k = Unauthorized
	case f.Kind == soapmsg.FaultBadRequest:
		k = BadRequest
	}
	msg := f.String
	if msg == "" {
		msg = f.Message
	}
	return &Error{Kind: k, Op: op, Msg: msg, Err: err}
}

// Options configure a Client.
type Options struct {
	// URL is the SML's management base URL.
	URL string
	// SMPID is this SMP's ID in the SML.
	SMPID string
	// Certificate is the client certificate the SML knows this SMP by.
	Certificate tls.Certificate
	// Roots verify the SML's server certificate; nil: the system roots.
	Roots *x509.CertPool
	// Timeout of one call; MaxConnections bounds the pool (soapmsg.TransportOptions).
	Timeout        time.Duration
	MaxConnections int
}

// Client calls one SML as one SMP. It is safe for concurrent use; SetCertificate switches the client certificate
// for the calls that follow.
type Client struct {
	soap  *soapmsg.Client
	smpID string
	url   string
	cert  atomic.Pointer[tls.Certificate]
}

// New returns a client for o.
func New(o Options) *Client {
	c := &Client{smpID: o.SMPID, url: strings.TrimRight(o.URL, "/")}
	cert := o.Certificate
	c.cert.Store(&cert)
	c.soap = soapmsg.NewClient(c.url, soapmsg.TransportOptions{
		GetCertificate: c.cert.Load, Roots: o.Roots, Timeout: o.Timeout, MaxConnections: o.MaxConnections,
	})
	return c
}

// URL is the SML's management base URL.
func (c *Client) URL() string { return c.url }

// SMPID is this SMP's ID in the SML.
func (c *Client) SMPID() string { return c.smpID }

// Certificate returns the client certificate the calls use now.
func (c *Client) Certificate() *tls.Certificate { return c.cert.Load() }

// SetCertificate makes cert the client certificate of the calls that follow; pooled connections made with the
// previous one are closed.
func (c *Client) SetCertificate(cert tls.Certificate) {
	c.cert.Store(&cert)
	if t, ok := c.soap.HTTP.Transport.(*http.Transport); ok {
		t.CloseIdleConnections()
	}
}

// Close closes the pooled connections.
func (c *Client) Close() {
	if t, ok := c.soap.HTTP.Transport.(*http.Transport); ok {
		t.CloseIdleConnections()
	}
}

func pid(id identifier.ID) soapmsg.ParticipantIdentifier {
	return soapmsg.ParticipantIdentifier{Scheme: id.Scheme, Value: id.Value}
}

// Addresses are an SMP's addresses in the SML.
type Addresses struct {
	Logical  string `json:"logical_address"`  // the SMP's base URL
	Physical string `json:"physical_address"` // an IPv4 address
}

// ReadSMP returns this SMP's addresses as the SML has them.
func (c *Client) ReadSMP(ctx context.Context) (Addresses, error) {
	out, err := c.soap.ReadSMP(ctx, c.smpID)
	if err != nil {
		return Addresses{}, translate("Read", err)
	}
	return Addresses{Logical: out.PublisherEndpoint.LogicalAddress, Physical: out.PublisherEndpoint.PhysicalAddress}, nil
}

// RegisterSMP makes the SML know this SMP at a: it creates the SMP, or, when it exists already and belongs to this
// SMP's certificate, updates its addresses where they differ. An SMP ID that another certificate owns is an
// Unauthorized error. It reports what it did: "created", "updated" or "unchanged".
func (c *Client) RegisterSMP(ctx context.Context, a Addresses) (string, error) {
	err := translate("Create", c.soap.CreateSMP(ctx, c.smpID, a.Logical, a.Physical))
	if KindOf(err) != Exists {
		if err != nil {
			return "", err
		}
		return "created", nil
	}
	have, err := c.ReadSMP(ctx)
	if err != nil {
		if KindOf(err) == Unauthorized || KindOf(err) == NotFound {
			return "", &Error{Kind: Unauthorized, Op: "Create", Msg: fmt.Sprintf("the SMP ID %s exists in the SML but does not belong to this SMP's certificate: choose another smp_id, or ask the SML's operator (%s)", c.smpID, Message(err)), Err: err}
		}
		return "", err
	}
	if have == a {
		return "unchanged", nil
	}
	return "updated", c.UpdateSMP(ctx, a)
}

// UpdateSMP changes this SMP's addresses.
func (c *Client) UpdateSMP(ctx context.Context, a Addresses) error {
	return translate("Update", c.soap.Call(ctx, soapmsg.OpUpdateSMP, &soapmsg.SMPService{XMLName: soapmsg.ElemUpdateSMP, SMPID: c.smpID,
		PublisherEndpoint: soapmsg.PublisherEndpoint{LogicalAddress: a.Logical, PhysicalAddress: a.Physical}}, nil))
}

// UnregisterSMP deletes this SMP from the SML, and with it every participant registered for it there.
func (c *Client) UnregisterSMP(ctx context.Context) error {
	return translate("Delete", c.soap.Call(ctx, soapmsg.OpDeleteSMP, &soapmsg.SMPID{ID: c.smpID}, nil))
}

// Create registers participants for this SMP: Create for one, CreateList for more (all or nothing).
func (c *Client) Create(ctx context.Context, ids []identifier.ID) error {
	switch len(ids) {
	case 0:
		return nil
	case 1:
		return translate("Create", c.soap.CreateParticipant(ctx, c.smpID, ids[0].Scheme, ids[0].Value))
	}
	return translate("CreateList", c.soap.Call(ctx, soapmsg.OpCreateList, c.page(soapmsg.ElemCreateList, ids), nil))
}

// Delete removes participants of this SMP: Delete for one, DeleteList for more (all or nothing).
func (c *Client) Delete(ctx context.Context, ids []identifier.ID) error {
	switch len(ids) {
	case 0:
		return nil
	case 1:
		return translate("Delete", c.soap.DeleteParticipant(ctx, c.smpID, ids[0].Scheme, ids[0].Value))
	}
	return translate("DeleteList", c.soap.Call(ctx, soapmsg.OpDeleteList, c.page(soapmsg.ElemDeleteList, ids), nil))
}

func (c *Client) page(name xml.Name, ids []identifier.ID) *soapmsg.ParticipantPage {
	p := &soapmsg.ParticipantPage{XMLName: name, SMPID: c.smpID}
	for _, id := range ids {
		p.Participants = append(p.Participants, pid(id))
	}
	return p
}

// maxListPages bounds List: a misbehaving SML that always answers a next page does not keep the SMP busy.
const maxListPages = 100000

// List returns every participant the SML has registered for this SMP, as the SML spells them (the scheme and
// value of each, lower-cased where the identifier policy folds case is the caller's business).
func (c *Client) List(ctx context.Context) ([]identifier.ID, error) {
	var out []identifier.ID
	next := ""
	for range maxListPages {
		var page soapmsg.ParticipantPage
		if err := c.soap.Call(ctx, soapmsg.OpList, &soapmsg.PageRequest{SMPID: c.smpID, NextPage: next}, &page); err != nil {
			return nil, translate("List", err)
		}
		for _, p := range page.Participants {
			out = append(out, identifier.ID{Scheme: p.Scheme, Value: p.Value})
		}
		if page.NextPage == "" || page.NextPage == next || len(page.Participants) == 0 {
			return out, nil
		}
		next = page.NextPage
	}
	return nil, &Error{Kind: Transient, Op: "List", Msg: "the SML kept answering another page"}
}

// PrepareToMigrate announces that participant p leaves this SMP: the SMP that takes it over proves it with key.
func (c *Client) PrepareToMigrate(ctx context.Context, p identifier.ID, key string) error {
	return translate("PrepareToMigrate", c.soap.Call(ctx, soapmsg.OpPrepareToMigrate, &soapmsg.MigrationRecord{
		XMLName: soapmsg.ElemPrepareMigration, SMPID: c.smpID, Participant: pid(p), MigrationKey: key}, nil))
}

// Migrate takes participant p over from the SMP that prepared its migration with key.
func (c *Client) Migrate(ctx context.Context, p identifier.ID, key string) error {
	return translate("Migrate", c.soap.Call(ctx, soapmsg.OpMigrate, &soapmsg.MigrationRecord{
		XMLName: soapmsg.ElemCompleteMigration, SMPID: c.smpID, Participant: pid(p), MigrationKey: key}, nil))
}

// PrepareChangeCertificate announces that this SMP's certificate becomes next on date (UTC day; zero: the SML's
// default, which for BDMSL is the day after).
func (c *Client) PrepareChangeCertificate(ctx context.Context, next *x509.Certificate, date time.Time) error {
	req := &soapmsg.PrepareChangeCertificate{NewCertificate: base64.StdEncoding.EncodeToString(next.Raw)}
	if !date.IsZero() {
		req.MigrationDate = date.UTC().Format(time.DateOnly)
	}
	return translate("PrepareChangeCertificate", c.soap.Call(ctx, soapmsg.OpPrepareChangeCertificate, req, nil))
}
