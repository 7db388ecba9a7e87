// Generates schema.json and bridge-metadata.json for the random plugin.
package main

import (
	pftfgen "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf/tfgen"

	provider "toolchain.local/pulumi-random"
)

var version = "0.0.0-dev" // set with -ldflags -X main.version=...

func main() {
	pftfgen.Main("random", provider.Provider(version))
}
