// Package provider maps the upstream Terraform Docker provider
// (kreuzwerker/terraform-provider-docker) onto Pulumi tokens. The
// pulumi-docker module is not in the module mirror, so this re-states the
// parts of its mapping the @pulumi/docker npm SDK relies on at run time.
//
// Only the upstream SDKv2 provider is bridged: it holds every resource and
// data source the npm SDK declares. Not provided: pulumi-docker's own native
// docker.Image (BuildKit builds); use docker.RemoteImage instead.
package provider

import (
	_ "embed"

	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge/tokens"
	shimv2 "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfshim/sdk-v2"
	"github.com/terraform-providers/terraform-provider-docker/shim"
)

// Written by tfgen before the plugin binary is compiled (see toolchain.sh).
//
//go:embed cmd/pulumi-resource-docker/bridge-metadata.json
var metadata []byte

func Provider(version string) tfbridge.ProviderInfo {
	prov := tfbridge.ProviderInfo{
		P:            shimv2.NewProvider(shim.NewProvider(version)),
		Name:         "docker",
		Version:      version,
		License:      "Apache-2.0",
		Repository:   "https://github.com/pulumi/pulumi-docker",
		GitHubOrg:    "kreuzwerker",
		MetadataInfo: tfbridge.NewProviderMetadata(metadata),
		Config: map[string]*tfbridge.SchemaInfo{
			"host": {Default: &tfbridge.DefaultInfo{
				Value: "unix:///var/run/docker.sock", EnvVars: []string{"DOCKER_HOST"},
			}},
			"registry_auth": {Name: "registryAuth", MaxItemsOne: tfbridge.False()},
		},
		// Names the npm SDK uses where the standard derivation differs.
		Resources: map[string]*tfbridge.ResourceInfo{
			"docker_config": {Tok: "docker:index/serviceConfig:ServiceConfig"},
			"docker_container": {
				DeleteBeforeReplace: true,
				Fields: map[string]*tfbridge.SchemaInfo{
					"command":           {Name: "command"},
					"networks_advanced": {Name: "networksAdvanced"},
				},
			},
			"docker_image": {
				Tok:    "docker:index/remoteImage:RemoteImage",
				Fields: map[string]*tfbridge.SchemaInfo{"name": {Name: "name"}},
			},
		},
		DataSources: map[string]*tfbridge.DataSourceInfo{
			"docker_image": {Tok: "docker:index/getRemoteImage:getRemoteImage"},
		},
	}
	prov.MustComputeTokens(tokens.SingleModule("docker_", "index",
		tokens.MakeStandard("docker")))
	prov.SetAutonaming(255, "-")
	return prov
}
