//go:build tools

// Package peers pins the peer tools that bench/run compares kubectl-chronom with. Nothing here is
// built into the plugin: bench/run builds each peer's main package from this module into
// ${XDG_CACHE_HOME:-~/.cache}/kubectl-chronom/peers/ and never commits code or binaries.
//
// Peers that the Go module proxy reachable here refuses (see bench/RESULTS.md for the exact
// errors) are listed, commented out, so the pin is recorded:
//
//	github.com/fairwindsops/rbac-lookup v0.10.2 (main package: module root)
//	github.com/alcideio/rbac-tool       v1.20.0 (main package: module root)
package peers

import (
	_ "github.com/aquasecurity/kubectl-who-can/cmd/kubectl-who-can"
)
