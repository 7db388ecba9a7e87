// Package shim exposes the upstream provider constructor, which lives in an
// internal package. Its import path sits under the upstream module path, so
// Go's internal-package rule lets it import internal/provider.
package shim

import (
	"github.com/hashicorp/terraform-plugin-sdk/v2/helper/schema"

	upstream "github.com/terraform-providers/terraform-provider-docker/internal/provider"
)

func NewProvider(version string) *schema.Provider { return upstream.New(version)() }
