// Package shim exposes the upstream provider constructor, which lives in an
// internal package. Its import path sits under the upstream module path, so
// Go's internal-package rule lets it import internal/provider.
package shim

import (
	"github.com/hashicorp/terraform-plugin-framework/provider"

	upstream "github.com/terraform-providers/terraform-provider-random/internal/provider"
)

func NewProvider() provider.Provider { return upstream.New() }
