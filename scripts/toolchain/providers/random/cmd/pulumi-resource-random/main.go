// The pulumi-resource-random plugin binary.
package main

import (
	"context"
	_ "embed"

	pf "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf/tfbridge"

	provider "toolchain.local/pulumi-random"
)

var version = "0.0.0-dev" // set with -ldflags -X main.version=...

//go:embed schema.json
var schema []byte

func main() {
	pf.Main(context.Background(), "random", provider.Provider(version),
		pf.ProviderMetadata{PackageSchema: schema})
}
