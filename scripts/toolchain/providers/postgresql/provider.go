// Package provider maps the upstream Terraform PostgreSQL provider
// (cyrilgdn/terraform-provider-postgresql, an SDKv2 provider) onto Pulumi
// tokens. The pulumi-postgresql module is not in the module mirror, so this
// re-states the parts of its mapping that the @pulumi/postgresql npm SDK
// depends on at run time: tokens, config defaults and auto-naming.
package provider

import (
	_ "embed"

	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge/tokens"
	shimv2 "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfshim/sdk-v2"
	"github.com/terraform-providers/terraform-provider-postgresql/postgresql"
)

// Written by tfgen before the plugin binary is compiled (see toolchain.sh).
//
//go:embed cmd/pulumi-resource-postgresql/bridge-metadata.json
var metadata []byte

func Provider(version string) tfbridge.ProviderInfo {
	prov := tfbridge.ProviderInfo{
		P:            shimv2.NewProvider(postgresql.Provider()),
		Name:         "postgresql",
		Version:      version,
		License:      "Apache-2.0",
		Repository:   "https://github.com/pulumi/pulumi-postgresql",
		GitHubOrg:    "cyrilgdn",
		MetadataInfo: tfbridge.NewProviderMetadata(metadata),
		Config: map[string]*tfbridge.SchemaInfo{
			"sslmode": {Default: &tfbridge.DefaultInfo{EnvVars: []string{"PGSSLMODE"}}},
			"connect_timeout": {Default: &tfbridge.DefaultInfo{
				EnvVars: []string{"PGCONNECT_TIMEOUT"}, Value: 180,
			}},
		},
		Resources: map[string]*tfbridge.ResourceInfo{
			"postgresql_grant": {DeleteBeforeReplace: true},
		},
	}
	// The SDK ships both DefaultPrivileg (legacy) and DefaultPrivileges.
	prov.RenameResourceWithAlias("postgresql_default_privileges",
		"postgresql:index/defaultPrivileg:DefaultPrivileg",
		"postgresql:index/defaultPrivileges:DefaultPrivileges",
		"index", "index", nil)
	prov.MustComputeTokens(tokens.SingleModule("postgresql_", "index",
		tokens.MakeStandard("postgresql")))
	// name is optional in the SDK: omitted names become "<logical>-<random>".
	prov.SetAutonaming(255, "-")
	return prov
}
