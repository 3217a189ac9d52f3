//go:build tools

// Package tools pins the container registry that `make up` runs on 127.0.0.1 (see tools/local_stack.py).
package tools

import _ "github.com/distribution/distribution/v3/cmd/registry"
