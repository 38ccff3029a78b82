// Package conf loads the YAML configuration of the SML and the SMP: strict decoding (an unknown key is an error
// naming the key and the file), then defaults in a step of their own, then validation that reports every
// problem at once.
package conf

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// decodeStrict decodes one YAML document into out, refusing unknown keys and trailing documents. Errors name the
// file (name) and, where the decoder knows it, the line.
func decodeStrict(name string, data []byte, out any) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(out); err != nil {
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("conf: %s: the file is empty", name)
		}
		return fmt.Errorf("conf: %s: %s", name, rewriteYAMLError(err))
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return fmt.Errorf("conf: %s: holds more than one YAML document; keep one", name)
	}
	return nil
}

var (
	reUnknown = regexp.MustCompile(`field (\S+) not found in type (\S+)`)
	reType    = regexp.MustCompile(`cannot unmarshal !!(\w+) ` + "`" + `([^` + "`" + `]*)` + "`" + ` into (\S+)`)
)

// rewriteYAMLError turns the decoder's messages into ones that speak of keys and values, not Go types.
func rewriteYAMLError(err error) string {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return strings.TrimPrefix(err.Error(), "yaml: ")
	}
	msgs := make([]string, 0, len(te.Errors))
	for _, m := range te.Errors {
		m = reUnknown.ReplaceAllString(m, `unknown key "$1"`)
		m = reType.ReplaceAllStringFunc(m, func(s string) string {
			g := reType.FindStringSubmatch(s)
			return fmt.Sprintf("value %q (%s) is not a valid %s", g[2], g[1], goTypeWord(g[3]))
		})
		msgs = append(msgs, m)
	}
	return strings.Join(msgs, "; ")
}

func goTypeWord(t string) string {
	switch {
	case t == "time.Duration":
		return "duration (write it like 60s, 5m or 1h30m)"
	case strings.HasPrefix(t, "int"), strings.HasPrefix(t, "uint"):
		return "whole number"
	case t == "bool":
		return "boolean (true or false)"
	case strings.HasPrefix(t, "[]"):
		return "list"
	case t == "string":
		return "string"
	default:
		return "mapping"
	}
}

// problems collects validation failures, each prefixed with the key path it concerns.
type problems struct{ list []string }

func (p *problems) add(path, format string, args ...any) {
	p.list = append(p.list, path+": "+fmt.Sprintf(format, args...))
}

func (p *problems) err(file string) error {
	if len(p.list) == 0 {
		return nil
	}
	errs := make([]error, len(p.list))
	for i, m := range p.list {
		errs[i] = fmt.Errorf("conf: %s: %s", file, m)
	}
	return errors.Join(errs...)
}

// config is what every configuration type does: remember its file, fill in defaults, validate.
type config[T any] interface {
	*T
	setFile(name string)
	Defaults()
	Validate() error
}

// load reads the file at path and parses it.
func load[T any, P config[T]](path string) (*T, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("conf: %w", err)
	}
	return parse[T, P](path, data)
}

// parse decodes data strictly, then applies defaults, then validates; name is used in messages.
func parse[T any, P config[T]](name string, data []byte) (*T, error) {
	c := new(T)
	if err := decodeStrict(name, data, c); err != nil {
		return nil, err
	}
	p := P(c)
	p.setFile(name)
	p.Defaults()
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}
