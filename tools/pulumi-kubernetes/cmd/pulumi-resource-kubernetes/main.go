// Command pulumi-resource-kubernetes serves the pulumi-kubernetes provider.
//
// The upstream command embeds schema-embed.json and terraform-mapping-embed.json, which its
// `go generate` step derives from the schema.json and terraform-mapping.json that ship in the
// provider/v4 module; they are not in the module, so `go build` of the upstream command fails.
// tools/build.sh derives the same two files from the module cache into this directory (they are
// git-ignored) and builds this equivalent main.
package main

import (
	_ "embed"

	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/provider"
	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version"
)

//go:embed schema-embed.json
var pulumiSchema []byte

//go:embed terraform-mapping-embed.json
var terraformMapping []byte

func main() {
	provider.Serve("kubernetes", version.Version, pulumiSchema, terraformMapping)
}
