package soapmsg

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Client calls an SML's management API: the SMP side. It sends the WSDL's SOAPAction (the nine-space form for the
// participant service, which BDMSL-based SMLs expect) and returns SOAP faults as *Fault, whatever the HTTP status
// (500, or BDMSL's 400/401/404).
type Client struct {
	// BaseURL is the SML's management base URL, e.g. https://sml.example.org/edelivery-sml; the service paths
	// (/manageservicemetadata ...) are appended.
	BaseURL string
	// HTTP carries the SMP's client certificate (mutual TLS): NewHTTPClient (or NewClient) builds it with the
	// timeout and connection pool of the configuration. Default http.DefaultClient (no certificate).
	HTTP *http.Client
	// MaxResponseBytes bounds a response. Default 4 MiB.
	MaxResponseBytes int64
}

// Call sends body (the request element of op) and decodes the response element into out (nil for operations
// without output). A SOAP fault is returned as *Fault; anything else that goes wrong as another error.
func (c *Client) Call(ctx context.Context, op Operation, body, out any) error {
	if op.Service() == ServiceNone {
		return fmt.Errorf("soapmsg: unknown operation %d", int(op))
	}
	data, err := Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(c.BaseURL, "/")+op.Service().Path(), bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("soapmsg: %w", err)
	}
	req.Header.Set("Content-Type", ContentType)
	req.Header.Set("SOAPAction", `"`+op.SOAPAction()+`"`)
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("soapmsg: %s: %w", op, err)
	}
	defer resp.Body.Close()
	limit := c.MaxResponseBytes
	if limit <= 0 {
		limit = 4 << 20
	}
	r, err := DecodeResponse(io.LimitReader(resp.Body, limit), Limits{MaxElements: 1 << 20}, out)
	if err != nil {
		var de *DecodeError
		if errors.As(err, &de) {
			return fmt.Errorf("soapmsg: %s: HTTP %d with an answer that is not a SOAP envelope: %w", op, resp.StatusCode, err)
		}
		return fmt.Errorf("soapmsg: %s: %w", op, err)
	}
	if r.Fault != nil {
		return r.Fault
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("soapmsg: %s: HTTP %d without a fault", op, resp.StatusCode)
	}
	return nil
}

// CreateSMP registers the SMP (ManageServiceMetadataService Create).
func (c *Client) CreateSMP(ctx context.Context, smpID, logicalAddress, physicalAddress string) error {
	return c.Call(ctx, OpCreateSMP, &SMPService{XMLName: ElemCreateSMP, SMPID: smpID,
		PublisherEndpoint: PublisherEndpoint{LogicalAddress: logicalAddress, PhysicalAddress: physicalAddress}}, nil)
}

// ReadSMP reads the SMP (ManageServiceMetadataService Read).
func (c *Client) ReadSMP(ctx context.Context, smpID string) (*SMPService, error) {
	var out SMPService
	if err := c.Call(ctx, OpReadSMP, &SMPService{XMLName: ElemReadSMP, SMPID: smpID}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// CreateParticipant registers one participant for the SMP (ManageBusinessIdentifierService Create).
func (c *Client) CreateParticipant(ctx context.Context, smpID, scheme, value string) error {
	return c.Call(ctx, OpCreateParticipant, &ParticipantForSMP{XMLName: ElemCreateParticipant, SMPID: smpID,
		Participant: ParticipantIdentifier{Scheme: scheme, Value: value}}, nil)
}

// DeleteParticipant removes one participant of the SMP (ManageBusinessIdentifierService Delete).
func (c *Client) DeleteParticipant(ctx context.Context, smpID, scheme, value string) error {
	return c.Call(ctx, OpDeleteParticipant, &ParticipantForSMP{XMLName: ElemDeleteParticipant, SMPID: smpID,
		Participant: ParticipantIdentifier{Scheme: scheme, Value: value}}, nil)
}

// IsAlreadyExists reports whether err is the SML's "already exists" fault (a BadRequestFault with BDMSL's
// ERR-106 "already exist(s)" text), which a registering SMP treats as success.
func IsAlreadyExists(err error) bool {
	var f *Fault
	return errors.As(err, &f) && f.Kind == FaultBadRequest && strings.HasPrefix(f.String, "[ERR-106]") &&
		strings.Contains(f.String, "already exist")
}
