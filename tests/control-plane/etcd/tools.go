//go:build tools

// Package tools pins the command this module builds; nothing imports it.
package tools

import _ "go.etcd.io/etcd/server/v3"
