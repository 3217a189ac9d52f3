//go:build tools

// Package tools pins the BuildKit daemon that `make up` runs for the docker-build provider's
// "remote" builder (see tools/local_stack.py).
package tools

import _ "github.com/moby/buildkit/cmd/buildkitd"
