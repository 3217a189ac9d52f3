//go:build tools

// Package tools pins kubectl (the benchmark's `kubectl apply`, bench/bench_up.py) at the Kubernetes
// version of the local control plane; built by tools/build.sh.
package tools

import _ "k8s.io/kubernetes/cmd/kubectl"
