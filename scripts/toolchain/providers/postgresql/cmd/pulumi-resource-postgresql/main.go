// The pulumi-resource-postgresql plugin binary.
package main

import (
	_ "embed"

	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"

	provider "toolchain.local/pulumi-postgresql"
)

var version = "0.0.0-dev" // set with -ldflags -X main.version=...

//go:embed schema.json
var schema []byte

func main() {
	tfbridge.Main("postgresql", version, provider.Provider(version), schema)
}
