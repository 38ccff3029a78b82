// Package xmlbind is the SMP's XML binding: it decodes request bodies of every flavour (PEPPOL SMP 1.x, OASIS BDXR
// SMP 1.0, OASIS SMP 2.0, recognised by namespace) into the neutral model of package smp, and renders the model as
// each flavour's documents, which the service signs and stores.
//
//   - decode.go: bodies to the model (DecodeServiceGroup, DecodeServiceMetadata), with the raw-body checks first
//   - render.go: the model to documents (RenderGroup, RenderMetadata)
//   - importdir.go: a directory of XML documents into the SMP
package xmlbind

import (
	"github.com/beevik/etree"

	"github.com/signpost-project/signpost/smp"
)

// Binding implements smp.Binding.
type Binding struct{}

// RenderGroup implements smp.Binding.
func (Binding) RenderGroup(f smp.Flavour, sg *smp.ServiceGroup, refs []smp.Reference, base string) (*etree.Document, error) {
	return RenderGroup(f, sg, refs, base)
}

// RenderMetadata implements smp.Binding.
func (Binding) RenderMetadata(f smp.Flavour, sm *smp.ServiceMetadata) (*etree.Document, error) {
	return RenderMetadata(f, sm)
}
