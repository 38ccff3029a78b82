package smp

import "github.com/beevik/etree"

// ParseExtension parses a raw extension: exactly one element in a namespace (comments around it are dropped), with
// its namespace declarations. CDATA sections become plain text (canonical XML has none). Every binding inserts
// extensions through it, and the model's validation refuses what it refuses.
func ParseExtension(raw string) (*etree.Element, error) {
	d := etree.NewDocument()
	if err := d.ReadFromString(raw); err != nil {
		return nil, Invalidf("Extension", "not well-formed XML: %v", err)
	}
	root := d.Root()
	if root == nil {
		return nil, Invalid("Extension", "must hold one element")
	}
	n := 0
	for _, t := range d.Child {
		switch v := t.(type) {
		case *etree.Element:
			n++
		case *etree.CharData:
			if !v.IsWhitespace() {
				return nil, Invalid("Extension", "must hold one element and no text around it")
			}
		case *etree.Directive:
			return nil, Invalid("Extension", "must not contain a DOCTYPE")
		}
	}
	if n != 1 {
		return nil, Invalid("Extension", "must hold exactly one element")
	}
	if root.NamespaceURI() == "" {
		// ##other / lax wildcards want a namespace-qualified element.
		return nil, Invalid("Extension", "its element must be in a namespace (xmlns)")
	}
	uncdata(root)
	return root.Copy(), nil
}

func uncdata(e *etree.Element) {
	for i, t := range e.Child {
		switch v := t.(type) {
		case *etree.CharData:
			if v.IsCData() {
				e.RemoveChildAt(i)
				e.InsertChildAt(i, etree.NewText(v.Data))
			}
		case *etree.Element:
			uncdata(v)
		}
	}
}

// checkExtensions parses every extension of a service metadata.
func checkExtensions(sm *ServiceMetadata) error {
	all := [][]string{sm.Extensions}
	if sm.Redirect != nil {
		all = append(all, sm.Redirect.Extensions)
	}
	for _, p := range sm.Processes {
		all = append(all, p.Extensions)
		for _, e := range p.Endpoints {
			all = append(all, e.Extensions)
		}
	}
	for _, xs := range all {
		for _, x := range xs {
			if _, err := ParseExtension(x); err != nil {
				return err
			}
		}
	}
	return nil
}

func checkGroupExtensions(sg *ServiceGroup) error {
	for _, x := range sg.Extensions {
		if _, err := ParseExtension(x); err != nil {
			return err
		}
	}
	return nil
}
