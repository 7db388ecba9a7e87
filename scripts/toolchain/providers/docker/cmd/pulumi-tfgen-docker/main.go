// Generates schema.json and bridge-metadata.json for the docker plugin.
package main

import (
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfgen"

	provider "toolchain.local/pulumi-docker"
)

var version = "0.0.0-dev" // set with -ldflags -X main.version=...

func main() {
	tfgen.Main("docker", version, provider.Provider(version))
}
