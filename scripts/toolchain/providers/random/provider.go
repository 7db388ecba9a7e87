// Package provider maps the upstream Terraform random provider (a Plugin
// Framework provider) onto Pulumi tokens. The pulumi-random module itself is
// not in the module mirror, so this is a minimal re-statement of its mapping:
// the tokens must equal the ones the @pulumi/random npm SDK sends.
package provider

import (
	_ "embed"

	pf "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf/tfbridge"
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge/tokens"
	"github.com/terraform-providers/terraform-provider-random/shim"
)

// Written by tfgen before the plugin binary is compiled (see toolchain.sh).
//
//go:embed cmd/pulumi-resource-random/bridge-metadata.json
var metadata []byte

func Provider(version string) tfbridge.ProviderInfo {
	prov := tfbridge.ProviderInfo{
		P:            pf.ShimProvider(shim.NewProvider()),
		Name:         "random",
		Version:      version,
		License:      "Apache-2.0",
		Repository:   "https://github.com/pulumi/pulumi-random",
		MetadataInfo: tfbridge.NewProviderMetadata(metadata),
	}
	// random_password -> random:index/randomPassword:RandomPassword, etc.
	prov.MustComputeTokens(tokens.SingleModule("random_", "index",
		func(module, name string) (string, error) {
			return tokens.MakeStandard("random")(module, "Random"+name)
		}))
	prov.MustApplyAutoAliases()
	return prov
}
