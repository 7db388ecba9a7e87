// The pulumi-resource-docker plugin binary.
package main

import (
	_ "embed"

	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"

	provider "toolchain.local/pulumi-docker"
)

var version = "0.0.0-dev" // set with -ldflags -X main.version=...

//go:embed schema.json
var schema []byte

func main() {
	tfbridge.Main("docker", version, provider.Provider(version), schema)
}
