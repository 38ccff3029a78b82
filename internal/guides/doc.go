// Package guides holds no code: its tests check the operator guides in docs/ (guide-sml.md, guide-smp.md,
// guide-access-point.md, guide-two-nodes.md) against the real tools. Every systemd unit of a guide is verified with
// systemd-analyze against a freshly built signpost, the BIND and Knot snippets with named-checkconf and knotc,
// the nginx snippet by running nginx in front of a real `signpost smp serve` (and `signpost doctor` through it), and the Go snippet against the
// compiled example in package lookup, and the SMP configuration of the two-node guide by running two `signpost smp
// serve` on one PostgreSQL database (one killed with SIGKILL during writes).
package guides
