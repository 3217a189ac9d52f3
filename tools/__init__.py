"""Developer tooling: engine and control-plane binaries, offline engine env, local cluster."""
