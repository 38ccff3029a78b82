package httpapi

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/internal/logging"
	"github.com/signpost-project/signpost/smp"
	"github.com/signpost-project/signpost/smp/xmlbind"
)

// The management API on the protocol paths, as phoss-SMP and DomiSMP accept it: PUT a ServiceGroup or a
// ServiceMetadata body of any flavour, DELETE a group, one metadata or all of a group's metadata. The
// authenticate middleware has run: the principal is in the context.

// putTarget reads what every PUT starts with: the identifiers of the path and the body. On an error it has
// answered already.
func (a *api) putTarget(c *gin.Context, meta bool) (p, d identifier.ID, body []byte, ok bool) {
	p, d, err := a.ids(c, meta)
	if err == nil {
		body, err = a.body(c)
	}
	if err != nil {
		a.fail(c, err)
		return p, d, nil, false
	}
	return p, d, body, true
}

func (a *api) putGroup() gin.HandlerFunc {
	return func(c *gin.Context) {
		p, _, body, ok := a.putTarget(c, false)
		if !ok {
			return
		}
		sg, err := xmlbind.DecodeServiceGroup(body, a.svc.Policy(), a.o.Limits)
		if err != nil {
			a.fail(c, err)
			return
		}
		if sg.Participant != p {
			a.fail(c, smp.Invalid("ParticipantIdentifier", sg.Participant.String()+" in the body differs from "+p.String()+" in the URL"))
			return
		}
		var o smp.GroupWrite
		if v := c.Query("create-in-sml"); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				a.fail(c, smp.Invalid("create-in-sml", strconv.Quote(v)+" is not true or false"))
				return
			}
			o.InSML = &b
		}
		if v := c.GetHeader("ServiceGroup-Owner"); v != "" {
			o.Owner = &v
		}
		by := principal(c)
		created, err := a.svc.PutServiceGroup(c.Request.Context(), by, sg, o)
		a.stored(c, by, created, err, "service group "+p.String(), nil)
	}
}

func (a *api) putMetadata() gin.HandlerFunc {
	return func(c *gin.Context) {
		p, d, body, ok := a.putTarget(c, true)
		if !ok {
			return
		}
		sm, err := xmlbind.DecodeServiceMetadata(body, a.svc.Policy(), a.o.Limits)
		if err != nil {
			a.fail(c, err)
			return
		}
		if sm.Redirect != nil && sm.Participant.IsZero() && sm.DocumentType.IsZero() {
			sm.Participant, sm.DocumentType = p, d
		}
		if sm.Participant != p {
			a.fail(c, smp.Invalid("ParticipantIdentifier", sm.Participant.String()+" in the body differs from "+p.String()+" in the URL"))
			return
		}
		if sm.DocumentType != d {
			a.fail(c, smp.Invalid("DocumentIdentifier", sm.DocumentType.String()+" in the body differs from "+d.String()+" in the URL"))
			return
		}
		warns, err := smp.CheckPublishable(&sm, a.svc.Now(), a.o.ExpiredCertificates)
		if err != nil {
			a.fail(c, err)
			return
		}
		by := principal(c)
		created, err := a.svc.PutServiceMetadata(c.Request.Context(), by, sm)
		a.stored(c, by, created, err, "service metadata "+d.String()+" of "+p.String(), warns)
	}
}

// stored answers a PUT: 201 when it created, 200 when it replaced.
func (a *api) stored(c *gin.Context, by smp.Principal, created bool, err error, what string, warns []string) {
	if err != nil {
		a.fail(c, err)
		return
	}
	for _, wn := range warns {
		c.Writer.Header().Add("Warning", `299 signpost "`+strings.ReplaceAll(wn, `"`, `'`)+`"`)
		a.log.Warn("smp write accepted with a warning", "user", by.User, "path", c.Request.URL.RawPath, "warning", wn)
	}
	a.log.Info("smp write", logging.Audit, "op", "put", "user", by.User, "path", c.Request.URL.RawPath, "created", created)
	if created {
		a.text(c, http.StatusCreated, "created "+what)
		return
	}
	a.text(c, http.StatusOK, "stored "+what)
}

func (a *api) deleteGroup() gin.HandlerFunc {
	return func(c *gin.Context) {
		p, _, err := a.ids(c, false)
		if err == nil {
			err = a.svc.DeleteServiceGroup(c.Request.Context(), principal(c), p)
		}
		a.deleted(c, err, "deleted service group "+p.String()+" and its service metadata")
	}
}

func (a *api) deleteMetadata() gin.HandlerFunc {
	return func(c *gin.Context) {
		p, d, err := a.ids(c, true)
		if err == nil {
			_, err = a.svc.DeleteServiceMetadata(c.Request.Context(), principal(c), p, d)
		}
		a.deleted(c, err, "deleted service metadata "+d.String()+" of "+p.String())
	}
}

func (a *api) deleteAllMetadata() gin.HandlerFunc {
	return func(c *gin.Context) {
		p, _, err := a.ids(c, false)
		n := 0
		if err == nil {
			n, err = a.svc.DeleteServiceMetadata(c.Request.Context(), principal(c), p, identifier.ID{})
		}
		a.deleted(c, err, "deleted "+strconv.Itoa(n)+" service metadata of "+p.String())
	}
}

func (a *api) deleted(c *gin.Context, err error, msg string) {
	if err != nil {
		a.fail(c, err)
		return
	}
	a.log.Info("smp write", logging.Audit, "op", "delete", "user", principal(c).User, "path", c.Request.URL.RawPath)
	a.text(c, http.StatusOK, msg)
}

// errTooLarge is a body over the limit (413).
type errTooLarge struct{ max int64 }

func (e errTooLarge) Error() string {
	return "the body is larger than " + strconv.FormatInt(e.max, 10) + " bytes (write.max_body_bytes)"
}

// errMediaType is a Content-Type other than XML (415).
type errMediaType string

func (e errMediaType) Error() string {
	return "Content-Type " + strconv.Quote(string(e)) + " is not accepted; send text/xml or application/xml"
}

// body reads a PUT body: XML media type (or none), at most MaxBodyBytes.
func (a *api) body(c *gin.Context) ([]byte, error) {
	r := c.Request
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "text/xml" && mt != "application/xml") {
			return nil, errMediaType(ct)
		}
	}
	if r.ContentLength > a.o.MaxBodyBytes {
		return nil, errTooLarge{a.o.MaxBodyBytes}
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, r.Body, a.o.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, errTooLarge{a.o.MaxBodyBytes}
		}
		return nil, smp.Invalid("body", "could not read it: "+err.Error())
	}
	return body, nil
}
