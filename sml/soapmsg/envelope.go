package soapmsg

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Limits bound what a decoder accepts. The body size is bounded by the caller (the HTTP handler); these bound the
// shape, so that a small hostile document costs little too.
type Limits struct {
	// MaxDepth is the deepest element nesting allowed (the envelope is depth 1). Default 32.
	MaxDepth int
	// MaxElements is the most elements a document may have. Default 4096 (a CreateList of 100 has about 110).
	MaxElements int
}

// DefaultLimits are the limits used when a field of Limits is zero.
var DefaultLimits = Limits{MaxDepth: 32, MaxElements: 4096}

func (l Limits) withDefaults() Limits {
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultLimits.MaxDepth
	}
	if l.MaxElements <= 0 {
		l.MaxElements = DefaultLimits.MaxElements
	}
	return l
}

// Request is a decoded SOAP request: the operation chosen by the body element and the decoded element.
type Request struct {
	Op Operation
	// Body is a pointer to the operation's message type: *SMPService (CreateSMP, ReadSMP, UpdateSMP), *SMPID
	// (DeleteSMP), *ParticipantForSMP (CreateParticipant, DeleteParticipant), *ParticipantPage (CreateList,
	// DeleteList), *PageRequest (List), *MigrationRecord (PrepareToMigrate, Migrate), *IsAlive,
	// *AdvancedParticipant (CreateParticipantService), *PrepareChangeCertificate, *ChangeCertificate,
	// *ListParticipantsIn (ListParticipants), *ClearCache.
	Body any
}

// DecodeError is why a request could not be decoded. Its message is safe to send to the client.
type DecodeError struct {
	Reason Reason
	Msg    string
	Err    error // the XML parser's error, if any
}

// Reason classifies a DecodeError.
type Reason int

// The reasons.
const (
	// ReasonMalformed: not well-formed XML, a DTD, or not a SOAP 1.1 envelope with one body element.
	ReasonMalformed Reason = iota + 1
	// ReasonLimit: the document is nested too deep or has too many elements.
	ReasonLimit
	// ReasonUnknownOperation: the body element is not a request of the SML interface.
	ReasonUnknownOperation
	// ReasonVersion: a SOAP 1.2 envelope.
	ReasonVersion
)

func (e *DecodeError) Error() string { return "soapmsg: " + e.Msg }

func (e *DecodeError) Unwrap() error { return e.Err }

func malformed(err error, format string, args ...any) *DecodeError {
	return &DecodeError{Reason: ReasonMalformed, Msg: fmt.Sprintf(format, args...), Err: err}
}

const nsSOAP12 = "http://www.w3.org/2003/05/soap-envelope"

var errLimit = errors.New("limit")

// limitedTokens passes the raw tokens of an XML decoder on, refusing directives (DTDs) and counting depth and
// elements; the outer decoder built on it does the namespace and well-formedness work.
type limitedTokens struct {
	d        *xml.Decoder
	lim      Limits
	depth    int
	elements int
	err      *DecodeError
}

func (l *limitedTokens) Token() (xml.Token, error) {
	tok, err := l.d.RawToken()
	if err != nil {
		return tok, err
	}
	switch t := tok.(type) {
	case xml.StartElement:
		l.depth++
		l.elements++
		if l.depth > l.lim.MaxDepth {
			l.err = &DecodeError{Reason: ReasonLimit, Msg: fmt.Sprintf("the XML is nested deeper than %d elements", l.lim.MaxDepth)}
			return nil, errLimit
		}
		if l.elements > l.lim.MaxElements {
			l.err = &DecodeError{Reason: ReasonLimit, Msg: fmt.Sprintf("the XML has more than %d elements", l.lim.MaxElements)}
			return nil, errLimit
		}
	case xml.EndElement:
		l.depth--
	case xml.Directive:
		l.err = malformed(nil, "DTDs and other <!...> declarations are not accepted")
		return nil, errLimit
	case xml.ProcInst:
		if t.Target != "xml" {
			l.err = malformed(nil, "processing instructions are not accepted")
			return nil, errLimit
		}
	}
	return tok, nil
}

var bom = []byte{0xEF, 0xBB, 0xBF}

// asciiReader is the CharsetReader of the decoders: US-ASCII is UTF-8 without bytes above 0x7F; any other
// declared encoding is refused (encoding/xml handles UTF-8 itself).
func asciiReader(charset string, r io.Reader) (io.Reader, error) {
	switch strings.ToLower(charset) {
	case "us-ascii", "ascii":
		return asciiOnly{r}, nil
	}
	return nil, fmt.Errorf("the declared encoding %q is not supported; send UTF-8", charset)
}

type asciiOnly struct{ r io.Reader }

func (a asciiOnly) Read(p []byte) (int, error) {
	n, err := a.r.Read(p)
	for _, c := range p[:n] {
		if c > 0x7F {
			return 0, errors.New("a byte above 0x7F in a document declared US-ASCII")
		}
	}
	return n, err
}

// newDecoder returns a strict decoder over r with the limits applied, and the limiter to ask for the reason of a
// refusal.
func newDecoder(r io.Reader, lim Limits) (*xml.Decoder, *limitedTokens) {
	// A UTF-8 byte order mark is allowed before the document (XML 1.0 section 4.3.3); some clients send one.
	br := bufio.NewReader(r)
	if b, _ := br.Peek(len(bom)); bytes.Equal(b, bom) {
		_, _ = br.Discard(len(bom))
	}
	inner := xml.NewDecoder(br)
	inner.Strict = true
	// A document declaring an encoding other than UTF-8 or US-ASCII is refused.
	inner.CharsetReader = asciiReader
	lt := &limitedTokens{d: inner, lim: lim.withDefaults()}
	d := xml.NewTokenDecoder(lt)
	d.Strict = true
	return d, lt
}

func (l *limitedTokens) wrap(err error, what string) *DecodeError {
	if l.err != nil {
		return l.err
	}
	if errors.Is(err, io.EOF) {
		return malformed(err, "the request ends before the SOAP envelope is complete")
	}
	return malformed(err, "the request is not well-formed XML (%s): %v", what, err)
}

// nextStart returns the next start element at the current level, skipping character data and comments; ok is
// false at the end element of the current level.
func nextStart(d *xml.Decoder, lt *limitedTokens, what string) (se xml.StartElement, ok bool, err error) {
	for {
		tok, err := d.Token()
		if err != nil {
			return se, false, lt.wrap(err, what)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			return t, true, nil
		case xml.EndElement:
			return se, false, nil
		case xml.CharData:
			if len(bytes.TrimSpace(t)) != 0 {
				return se, false, malformed(nil, "unexpected text in %s", what)
			}
		}
	}
}

// DecodeRequest reads one SOAP 1.1 request envelope from r: the Header is skipped, the Body must hold exactly one
// element, which selects the operation and is decoded into its message type. Errors are *DecodeError.
func DecodeRequest(r io.Reader, lim Limits) (*Request, error) {
	d, lt := newDecoder(r, lim)
	env, ok, err := nextStart(d, lt, "the document")
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, malformed(nil, "the request has no root element")
	}
	if env.Name.Local == "Envelope" && env.Name.Space == nsSOAP12 {
		return nil, &DecodeError{Reason: ReasonVersion, Msg: "SOAP 1.2 is not supported; send a SOAP 1.1 envelope (" + NSEnvelope + ")"}
	}
	if env.Name.Local != "Envelope" || env.Name.Space != NSEnvelope {
		return nil, malformed(nil, "the root element is {%s}%s, not a SOAP 1.1 Envelope", env.Name.Space, env.Name.Local)
	}
	var req *Request
	for {
		se, ok, err := nextStart(d, lt, "the Envelope")
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		if se.Name.Space != NSEnvelope {
			return nil, malformed(nil, "unexpected element {%s}%s in the Envelope", se.Name.Space, se.Name.Local)
		}
		switch se.Name.Local {
		case "Header":
			if req != nil {
				return nil, malformed(nil, "the Header must come before the Body")
			}
			if err := d.Skip(); err != nil {
				return nil, lt.wrap(err, "the Header")
			}
		case "Body":
			if req != nil {
				return nil, malformed(nil, "the Envelope has two Bodies")
			}
			if req, err = decodeBody(d, lt); err != nil {
				return nil, err
			}
		default:
			return nil, malformed(nil, "unexpected element %s in the Envelope", se.Name.Local)
		}
	}
	if req == nil {
		return nil, malformed(nil, "the Envelope has no Body")
	}
	// Nothing but whitespace, comments and the XML declaration may follow the envelope.
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, lt.wrap(err, "after the Envelope")
		}
		switch t := tok.(type) {
		case xml.Comment:
		case xml.CharData:
			if len(bytes.TrimSpace(t)) != 0 {
				return nil, malformed(nil, "text after the Envelope")
			}
		default:
			return nil, malformed(nil, "content after the Envelope")
		}
	}
	return req, nil
}

func decodeBody(d *xml.Decoder, lt *limitedTokens) (*Request, error) {
	se, ok, err := nextStart(d, lt, "the Body")
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, malformed(nil, "the Body is empty; it must hold one request element")
	}
	op := OperationFor(se.Name)
	if op == OpNone {
		// Read the rest so that limits and well-formedness still apply, then refuse.
		if err := d.Skip(); err != nil {
			return nil, lt.wrap(err, "the Body")
		}
		return nil, &DecodeError{Reason: ReasonUnknownOperation, Msg: fmt.Sprintf("the Body element {%s}%s is not a request of the SML interface", se.Name.Space, se.Name.Local)}
	}
	body := newBody(op)
	if err := d.DecodeElement(body, &se); err != nil {
		return nil, lt.wrap(err, se.Name.Local)
	}
	if _, ok, err := nextStart(d, lt, "the Body"); err != nil {
		return nil, err
	} else if ok {
		return nil, malformed(nil, "the Body holds more than one element")
	}
	return &Request{Op: op, Body: body}, nil
}

// NormalizeAction normalises a SOAPAction header value for logs: quotes and all whitespace removed.
// Dispatch never depends on it.
func NormalizeAction(h string) string {
	h = strings.Trim(strings.TrimSpace(h), `"`)
	return strings.Join(strings.Fields(h), "")
}
