package main

import "fmt"

// notYet reports a command whose implementation has not landed in this build.
func notYet(name string) error {
	return &exitError{code: 2, err: fmt.Errorf("%s is not implemented in this build yet", name)}
}
