package soapmsg

import (
	"encoding/xml"
	"strings"
)

// Namespaces of the SML interface.
const (
	// NSEnvelope is the SOAP 1.1 envelope namespace.
	NSEnvelope = "http://schemas.xmlsoap.org/soap/envelope/"
	// NSLocator is the namespace of the SML data types (prefix lrs in the WSDLs).
	NSLocator = "http://busdox.org/serviceMetadata/locator/1.0/"
	// NSIdentifiers is the namespace of ParticipantIdentifier (prefix ids).
	NSIdentifiers = "http://busdox.org/transport/identifiers/1.0/"
	// NSBDMSL is the namespace of the BDMSL extension service's data types.
	NSBDMSL = "ec:services:wsdl:BDMSL:data:1.0"
)

// Operation is one operation of the SML interface.
type Operation int

// The operations. The zero value is no operation.
const (
	OpNone Operation = iota
	// ManageServiceMetadataService.
	OpCreateSMP
	OpReadSMP
	OpUpdateSMP
	OpDeleteSMP
	// ManageBusinessIdentifierService.
	OpCreateParticipant
	OpCreateList
	OpDeleteParticipant
	OpDeleteList
	OpList
	OpPrepareToMigrate
	OpMigrate
	// BDMSL service.
	OpIsAlive
	OpCreateParticipantService // BDMSL CreateParticipantIdentifier (with serviceName)
	OpPrepareChangeCertificate
	OpChangeCertificate // BDMSL ChangeCertificate (the SML authority's)
	OpListParticipants  // BDMSL ListParticipants (all of the caller's participants)
	OpClearCache        // BDMSL ClearCache (a no-op)

	opLast = OpClearCache
)

// Service is one of the three SOAP services (endpoints) of the SML.
type Service int

// The services.
const (
	ServiceNone Service = iota
	ServiceMetadata
	ServiceParticipant
	ServiceBDMSL
)

// Path returns the service's fixed endpoint path, e.g. "/manageservicemetadata".
func (s Service) Path() string {
	switch s {
	case ServiceMetadata:
		return "/manageservicemetadata"
	case ServiceParticipant:
		return "/manageparticipantidentifier"
	case ServiceBDMSL:
		return "/bdmslservice"
	}
	return ""
}

// ServiceForPath returns the service served at path ("" and a trailing slash tolerated), or ServiceNone.
func ServiceForPath(path string) Service {
	path = "/" + strings.Trim(path, "/")
	for _, s := range []Service{ServiceMetadata, ServiceParticipant, ServiceBDMSL} {
		if strings.EqualFold(path, s.Path()) {
			return s
		}
	}
	return ServiceNone
}

type opInfo struct {
	name    string // WSDL operation name
	service Service
	element xml.Name // request body element
	action  string   // SOAPAction as the WSDL has it
	write   bool
}

const (
	actionSMP         = "http://busdox.org/serviceMetadata/ManageServiceMetadataService/1.0/"
	actionParticipant = "http://busdox.org/serviceMetadata/ManageBusinessIdentifierService/1.0/         " // nine spaces, DIGEST 1.4
	actionBDMSL       = "ec:services:wsdl:BDMSL:1.0"
)

var ops = map[Operation]opInfo{
	OpCreateSMP:                {"Create", ServiceMetadata, xml.Name{Space: NSLocator, Local: "CreateServiceMetadataPublisherService"}, actionSMP + ":createIn", true},
	OpReadSMP:                  {"Read", ServiceMetadata, xml.Name{Space: NSLocator, Local: "ReadServiceMetadataPublisherService"}, actionSMP + ":readIn", false},
	OpUpdateSMP:                {"Update", ServiceMetadata, xml.Name{Space: NSLocator, Local: "UpdateServiceMetadataPublisherService"}, actionSMP + ":updateIn", true},
	OpDeleteSMP:                {"Delete", ServiceMetadata, xml.Name{Space: NSLocator, Local: "ServiceMetadataPublisherID"}, actionSMP + ":deleteIn", true},
	OpCreateParticipant:        {"Create", ServiceParticipant, xml.Name{Space: NSLocator, Local: "CreateParticipantIdentifier"}, actionParticipant + ":createIn", true},
	OpCreateList:               {"CreateList", ServiceParticipant, xml.Name{Space: NSLocator, Local: "CreateList"}, actionParticipant + ":createListIn", true},
	OpDeleteParticipant:        {"Delete", ServiceParticipant, xml.Name{Space: NSLocator, Local: "DeleteParticipantIdentifier"}, actionParticipant + ":deleteIn", true},
	OpDeleteList:               {"DeleteList", ServiceParticipant, xml.Name{Space: NSLocator, Local: "DeleteList"}, actionParticipant + ":deleteListIn", true},
	OpList:                     {"List", ServiceParticipant, xml.Name{Space: NSLocator, Local: "PageRequest"}, actionParticipant + ":listIn", false},
	OpPrepareToMigrate:         {"PrepareToMigrate", ServiceParticipant, xml.Name{Space: NSLocator, Local: "PrepareMigrationRecord"}, actionParticipant + ":prepareMigrateIn", true},
	OpMigrate:                  {"Migrate", ServiceParticipant, xml.Name{Space: NSLocator, Local: "CompleteMigrationRecord"}, actionParticipant + ":migrateIn", true},
	OpIsAlive:                  {"IsAlive", ServiceBDMSL, xml.Name{Space: NSBDMSL, Local: "IsAlive"}, actionBDMSL + ":isAliveIn", false},
	OpCreateParticipantService: {"CreateParticipantIdentifier", ServiceBDMSL, xml.Name{Space: NSBDMSL, Local: "SMPAdvancedServiceForParticipantService"}, actionBDMSL + ":createParticipantIdentifierIn", true},
	OpPrepareChangeCertificate: {"PrepareChangeCertificate", ServiceBDMSL, xml.Name{Space: NSBDMSL, Local: "PrepareChangeCertificate"}, actionBDMSL + ":prepareChangeCertificateIn", true},
	OpChangeCertificate:        {"ChangeCertificate", ServiceBDMSL, xml.Name{Space: NSBDMSL, Local: "ChangeCertificate"}, actionBDMSL + ":changeCertificateIn", true},
	OpListParticipants:         {"ListParticipants", ServiceBDMSL, xml.Name{Space: NSBDMSL, Local: "ListParticipantsIn"}, actionBDMSL + ":listParticipantsIn", false},
	OpClearCache:               {"ClearCache", ServiceBDMSL, xml.Name{Space: NSBDMSL, Local: "ClearCache"}, actionBDMSL + ":clearCacheIn", false},
}

var byElement = func() map[xml.Name]Operation {
	m := make(map[xml.Name]Operation, len(ops))
	for op, in := range ops {
		m[in.element] = op
	}
	return m
}()

// OperationFor returns the operation whose request body element is name, or OpNone.
func OperationFor(name xml.Name) Operation { return byElement[name] }

// String returns the operation's service and WSDL name, e.g. "ManageServiceMetadataService.Create".
func (o Operation) String() string {
	in, ok := ops[o]
	if !ok {
		return "none"
	}
	switch in.service {
	case ServiceMetadata:
		return "ManageServiceMetadataService." + in.name
	case ServiceParticipant:
		return "ManageBusinessIdentifierService." + in.name
	default:
		return "BDMSLService." + in.name
	}
}

// Name returns the WSDL operation name, e.g. "CreateList".
func (o Operation) Name() string { return ops[o].name }

// Service returns the service (endpoint) the operation belongs to.
func (o Operation) Service() Service { return ops[o].service }

// Element returns the qualified name of the operation's request body element.
func (o Operation) Element() xml.Name { return ops[o].element }

// SOAPAction returns the SOAPAction the WSDL gives the operation (the participant service's with its nine spaces,
// as BDMSL-based SMLs expect from clients).
func (o Operation) SOAPAction() string { return ops[o].action }

// Writes reports whether the operation changes the SML's data.
func (o Operation) Writes() bool { return ops[o].write }

// Operations lists every operation, in declaration order.
func Operations() []Operation {
	out := make([]Operation, 0, len(ops))
	for o := OpCreateSMP; o <= opLast; o++ {
		out = append(out, o)
	}
	return out
}

// ParticipantIdentifier is an ids:ParticipantIdentifier: the scheme attribute and the value as text.
type ParticipantIdentifier struct {
	XMLName xml.Name `xml:"http://busdox.org/transport/identifiers/1.0/ ParticipantIdentifier"`
	Scheme  string   `xml:"scheme,attr,omitempty"`
	Value   string   `xml:",chardata"`
}

// PublisherEndpoint is the SMP's logical address (base URL) and physical address (IP address).
type PublisherEndpoint struct {
	LogicalAddress  string `xml:"http://busdox.org/serviceMetadata/locator/1.0/ LogicalAddress"`
	PhysicalAddress string `xml:"http://busdox.org/serviceMetadata/locator/1.0/ PhysicalAddress"`
}

// SMPService is ServiceMetadataPublisherServiceType: the request of Create, Read and Update and the response of
// Read. XMLName says which of the four elements it is.
type SMPService struct {
	XMLName           xml.Name
	PublisherEndpoint PublisherEndpoint `xml:"http://busdox.org/serviceMetadata/locator/1.0/ PublisherEndpoint"`
	SMPID             string            `xml:"http://busdox.org/serviceMetadata/locator/1.0/ ServiceMetadataPublisherID"`
}

// SMPID is the request of ManageServiceMetadataService Delete: a bare ServiceMetadataPublisherID element.
type SMPID struct {
	XMLName xml.Name `xml:"http://busdox.org/serviceMetadata/locator/1.0/ ServiceMetadataPublisherID"`
	ID      string   `xml:",chardata"`
}

// ParticipantForSMP is ServiceMetadataPublisherServiceForParticipantType: the request of participant Create and
// Delete (XMLName says which).
type ParticipantForSMP struct {
	XMLName     xml.Name
	SMPID       string                `xml:"http://busdox.org/serviceMetadata/locator/1.0/ ServiceMetadataPublisherID"`
	Participant ParticipantIdentifier `xml:"http://busdox.org/transport/identifiers/1.0/ ParticipantIdentifier"`
}

// ParticipantPage is ParticipantIdentifierPageType: the request of CreateList and DeleteList and the response of
// List (XMLName says which).
type ParticipantPage struct {
	XMLName      xml.Name
	Participants []ParticipantIdentifier `xml:"http://busdox.org/transport/identifiers/1.0/ ParticipantIdentifier"`
	SMPID        string                  `xml:"http://busdox.org/serviceMetadata/locator/1.0/ ServiceMetadataPublisherID,omitempty"`
	NextPage     string                  `xml:"http://busdox.org/serviceMetadata/locator/1.0/ NextPageIdentifier,omitempty"`
}

// PageRequest is the request of List.
type PageRequest struct {
	XMLName  xml.Name `xml:"http://busdox.org/serviceMetadata/locator/1.0/ PageRequest"`
	SMPID    string   `xml:"http://busdox.org/serviceMetadata/locator/1.0/ ServiceMetadataPublisherID"`
	NextPage string   `xml:"http://busdox.org/serviceMetadata/locator/1.0/ NextPageIdentifier,omitempty"`
}

// MigrationRecord is MigrationRecordType: the request of PrepareToMigrate and Migrate (XMLName says which).
type MigrationRecord struct {
	XMLName      xml.Name
	SMPID        string                `xml:"http://busdox.org/serviceMetadata/locator/1.0/ ServiceMetadataPublisherID"`
	Participant  ParticipantIdentifier `xml:"http://busdox.org/transport/identifiers/1.0/ ParticipantIdentifier"`
	MigrationKey string                `xml:"http://busdox.org/serviceMetadata/locator/1.0/ MigrationKey"`
}

// AdvancedParticipant is the BDMSL SMPAdvancedServiceForParticipantService: a participant Create with the NAPTR
// service name.
type AdvancedParticipant struct {
	XMLName     xml.Name          `xml:"ec:services:wsdl:BDMSL:data:1.0 SMPAdvancedServiceForParticipantService"`
	Participant ParticipantForSMP `xml:"ec:services:wsdl:BDMSL:data:1.0 CreateParticipantIdentifier"`
	ServiceName string            `xml:"ec:services:wsdl:BDMSL:data:1.0 serviceName"`
}

// IsAlive is the BDMSL monitoring request (empty).
type IsAlive struct {
	XMLName xml.Name `xml:"ec:services:wsdl:BDMSL:data:1.0 IsAlive"`
}

// PrepareChangeCertificate is the BDMSL certificate rollover request.
type PrepareChangeCertificate struct {
	XMLName        xml.Name `xml:"ec:services:wsdl:BDMSL:data:1.0 PrepareChangeCertificate"`
	NewCertificate string   `xml:"ec:services:wsdl:BDMSL:data:1.0 newCertificatePublicKey"`
	MigrationDate  string   `xml:"ec:services:wsdl:BDMSL:data:1.0 migrationDate,omitempty"`
}

// ChangeCertificate is the BDMSL request of the SML authority: the SMP passes at once to the certificate
// NewCertificate (xs:base64Binary: the DER certificate, base64).
type ChangeCertificate struct {
	XMLName        xml.Name `xml:"ec:services:wsdl:BDMSL:data:1.0 ChangeCertificate"`
	SMPID          string   `xml:"http://busdox.org/serviceMetadata/locator/1.0/ ServiceMetadataPublisherID"`
	NewCertificate string   `xml:"ec:services:wsdl:BDMSL:data:1.0 newCertificatePublicKey"`
}

// ListParticipantsIn is the BDMSL ListParticipants request (empty): every participant of the caller's SMPs.
type ListParticipantsIn struct {
	XMLName xml.Name `xml:"ec:services:wsdl:BDMSL:data:1.0 ListParticipantsIn"`
}

// ListedParticipant is one participant element of ListParticipantsOut.
type ListedParticipant struct {
	XMLName     xml.Name              `xml:"ec:services:wsdl:BDMSL:data:1.0 participant"`
	Participant ParticipantIdentifier `xml:"http://busdox.org/transport/identifiers/1.0/ ParticipantIdentifier"`
	SMPID       string                `xml:"http://busdox.org/serviceMetadata/locator/1.0/ ServiceMetadataPublisherID"`
}

// ListParticipantsOut is the BDMSL ListParticipants response.
type ListParticipantsOut struct {
	XMLName      xml.Name            `xml:"ec:services:wsdl:BDMSL:data:1.0 ListParticipantsOut"`
	Participants []ListedParticipant `xml:"ec:services:wsdl:BDMSL:data:1.0 participant"`
}

// ClearCache is the BDMSL ClearCache request (empty).
type ClearCache struct {
	XMLName xml.Name `xml:"ec:services:wsdl:BDMSL:data:1.0 ClearCache"`
}

// Element names of the response and request elements that share a type.
var (
	ElemCreateSMP         = ops[OpCreateSMP].element
	ElemReadSMP           = ops[OpReadSMP].element
	ElemUpdateSMP         = ops[OpUpdateSMP].element
	ElemSMPService        = xml.Name{Space: NSLocator, Local: "ServiceMetadataPublisherService"}
	ElemCreateParticipant = ops[OpCreateParticipant].element
	ElemDeleteParticipant = ops[OpDeleteParticipant].element
	ElemCreateList        = ops[OpCreateList].element
	ElemDeleteList        = ops[OpDeleteList].element
	ElemParticipantPage   = xml.Name{Space: NSLocator, Local: "ParticipantIdentifierPage"}
	ElemPrepareMigration  = ops[OpPrepareToMigrate].element
	ElemCompleteMigration = ops[OpMigrate].element
)

// newBody returns a value to decode the request element of op into.
func newBody(op Operation) any {
	switch op {
	case OpCreateSMP, OpReadSMP, OpUpdateSMP:
		return &SMPService{}
	case OpDeleteSMP:
		return &SMPID{}
	case OpCreateParticipant, OpDeleteParticipant:
		return &ParticipantForSMP{}
	case OpCreateList, OpDeleteList:
		return &ParticipantPage{}
	case OpList:
		return &PageRequest{}
	case OpPrepareToMigrate, OpMigrate:
		return &MigrationRecord{}
	case OpIsAlive:
		return &IsAlive{}
	case OpCreateParticipantService:
		return &AdvancedParticipant{}
	case OpPrepareChangeCertificate:
		return &PrepareChangeCertificate{}
	case OpChangeCertificate:
		return &ChangeCertificate{}
	case OpListParticipants:
		return &ListParticipantsIn{}
	case OpClearCache:
		return &ClearCache{}
	}
	return nil
}
