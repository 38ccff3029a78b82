package soapmsg

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
)

// ContentType is the Content-Type of SOAP 1.1 messages.
const ContentType = "text/xml; charset=utf-8"

const (
	envelopeOpen  = `<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<soap:Envelope xmlns:soap="` + NSEnvelope + `"><soap:Body>`
	envelopeClose = `</soap:Body></soap:Envelope>`
)

// Marshal returns a SOAP 1.1 envelope whose Body holds body marshalled with encoding/xml; a nil body gives an
// empty Body (the response of every operation without output).
func Marshal(body any) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(envelopeOpen)
	if body != nil {
		if err := xml.NewEncoder(&b).Encode(body); err != nil {
			return nil, fmt.Errorf("soapmsg: marshal %T: %w", body, err)
		}
	}
	b.WriteString(envelopeClose)
	return b.Bytes(), nil
}

// FaultKind is the typed detail element of an SML fault.
type FaultKind int

// The fault kinds, as the WSDLs declare them.
const (
	FaultBadRequest FaultKind = iota + 1
	FaultNotFound
	FaultUnauthorized
	FaultInternal
)

// Element returns the local name of the kind's detail element, e.g. "BadRequestFault".
func (k FaultKind) Element() string {
	switch k {
	case FaultBadRequest:
		return "BadRequestFault"
	case FaultNotFound:
		return "NotFoundFault"
	case FaultUnauthorized:
		return "UnauthorizedFault"
	case FaultInternal:
		return "InternalErrorFault"
	}
	return ""
}

// FaultKindFor returns the kind whose detail element has the local name, or 0.
func FaultKindFor(local string) FaultKind {
	for k := FaultBadRequest; k <= FaultInternal; k++ {
		if k.Element() == local {
			return k
		}
	}
	return 0
}

// Fault codes (SOAP 1.1, qualified with the envelope prefix the envelope uses).
const (
	CodeClient = "Client"
	CodeServer = "Server"
)

// Fault is a SOAP 1.1 fault of the SML interface.
type Fault struct {
	// Code is CodeClient or CodeServer (the local part of faultcode).
	Code string
	// String is the faultstring, e.g. "[ERR-100] The SMP 'X' doesn't exist".
	String string
	// Kind selects the detail element; 0 gives a fault without detail.
	Kind FaultKind
	// Message is the detail's FaultMessage.
	Message string
}

func (f *Fault) Error() string { return "soap fault " + f.Code + ": " + f.String }

type faultXML struct {
	XMLName xml.Name     `xml:"soap:Fault"`
	Code    string       `xml:"faultcode"`
	String  string       `xml:"faultstring"`
	Detail  *faultDetail `xml:"detail,omitempty"`
}

type faultDetail struct {
	Inner faultType
}

type faultType struct {
	XMLName xml.Name
	Message string `xml:"FaultMessage,omitempty"`
}

// Marshal returns the fault as a SOAP 1.1 envelope.
func (f *Fault) Marshal() []byte {
	fx := faultXML{Code: "soap:" + f.Code, String: f.String}
	if f.Kind != 0 {
		fx.Detail = &faultDetail{Inner: faultType{XMLName: xml.Name{Space: NSLocator, Local: f.Kind.Element()}, Message: f.Message}}
	}
	var b bytes.Buffer
	b.WriteString(envelopeOpen)
	// Marshalling plain strings into fixed structs cannot fail; encoding/xml escapes the text.
	if err := xml.NewEncoder(&b).Encode(fx); err != nil {
		panic("soapmsg: marshal fault: " + err.Error())
	}
	b.WriteString(envelopeClose)
	return b.Bytes()
}

// Response is a decoded SOAP response: the name of its body element (zero for an empty Body) or its fault.
type Response struct {
	// Fault is set when the Body holds a soap:Fault.
	Fault *Fault
	// Element is the name of the Body's element, zero for an empty Body or a fault.
	Element xml.Name
}

// DecodeResponse reads a SOAP 1.1 response envelope (for an SML client and for tests). When the Body holds an
// element and v is not nil, the element is decoded into v (for instance *SMPService or *ParticipantPage). A fault
// in the Body is returned in Response.Fault, not as an error; errors are *DecodeError.
func DecodeResponse(r io.Reader, lim Limits, v any) (*Response, error) {
	d, lt := newDecoder(r, lim)
	env, ok, err := nextStart(d, lt, "the document")
	if err != nil {
		return nil, err
	}
	if !ok || env.Name.Local != "Envelope" || env.Name.Space != NSEnvelope {
		return nil, malformed(nil, "the response is not a SOAP 1.1 Envelope")
	}
	for {
		se, ok, err := nextStart(d, lt, "the Envelope")
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, malformed(nil, "the response has no Body")
		}
		if se.Name.Space != NSEnvelope || se.Name.Local != "Body" {
			if err := d.Skip(); err != nil {
				return nil, lt.wrap(err, se.Name.Local)
			}
			continue
		}
		return decodeResponseBody(d, lt, v)
	}
}

func decodeResponseBody(d *xml.Decoder, lt *limitedTokens, v any) (*Response, error) {
	resp := &Response{}
	for {
		se, ok, err := nextStart(d, lt, "the Body")
		if err != nil {
			return nil, err
		}
		if !ok {
			return resp, nil
		}
		if resp.Element.Local != "" || resp.Fault != nil {
			return nil, malformed(nil, "the response Body holds more than one element")
		}
		if se.Name.Space == NSEnvelope && se.Name.Local == "Fault" {
			if resp.Fault, err = decodeFault(d, lt, &se); err != nil {
				return nil, err
			}
			continue
		}
		resp.Element = se.Name
		if v == nil {
			err = d.Skip()
		} else {
			err = d.DecodeElement(v, &se)
		}
		if err != nil {
			return nil, lt.wrap(err, se.Name.Local)
		}
	}
}

type faultIn struct {
	Code   string `xml:"faultcode"`
	String string `xml:"faultstring"`
	Detail struct {
		Inner []struct {
			XMLName xml.Name
			Message string `xml:"FaultMessage"`
		} `xml:",any"`
	} `xml:"detail"`
}

func decodeFault(d *xml.Decoder, lt *limitedTokens, se *xml.StartElement) (*Fault, error) {
	var fi faultIn
	if err := d.DecodeElement(&fi, se); err != nil {
		return nil, lt.wrap(err, "Fault")
	}
	f := &Fault{Code: fi.Code, String: fi.String}
	if i := strings.LastIndexByte(f.Code, ':'); i >= 0 {
		f.Code = f.Code[i+1:]
	}
	for _, in := range fi.Detail.Inner {
		if k := FaultKindFor(in.XMLName.Local); k != 0 && in.XMLName.Space == NSLocator {
			f.Kind, f.Message = k, in.Message
		}
	}
	return f, nil
}
