package conf

import (
	"fmt"

	"go.yaml.in/yaml/v3"
)

// Files is a list of file paths that the YAML gives as one path or as a list of paths:
//
//	trusted_issuers: ca.pem
//	trusted_issuers: [ca-g2.pem, ca-g3.pem]
type Files []string

// UnmarshalYAML accepts a scalar (one path) or a sequence of paths.
func (f *Files) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		var s string
		if err := n.Decode(&s); err != nil {
			return err
		}
		*f = Files{s}
		if s == "" {
			*f = nil
		}
		return nil
	case yaml.SequenceNode:
		var l []string
		if err := n.Decode(&l); err != nil {
			return err
		}
		*f = Files(l)
		return nil
	}
	return fmt.Errorf("line %d: want a file path or a list of file paths", n.Line)
}
