// Generates schema.json and bridge-metadata.json for the postgresql plugin.
package main

import (
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfgen"

	provider "toolchain.local/pulumi-postgresql"
)

var version = "0.0.0-dev" // set with -ldflags -X main.version=...

func main() {
	tfgen.Main("postgresql", version, provider.Provider(version))
}
