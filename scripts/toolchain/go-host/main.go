// pulumi-language-go for this toolchain: the Go language host of pulumi/sdk
// v3.66.0 (the newest release that carries it in-tree and that the module
// mirror serves; installed beside this binary as pulumi-language-go-run),
// plus the two requests it predates and `pulumi package add` needs:
// GeneratePackage (the Go SDK of a package, by pkg/codegen/go of the CLI's own
// release) and Link (the SDK into the program's go.mod as a local module).
// Every other request is passed to the old host unchanged (../front/front.go,
// built beside this file).
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	gogen "github.com/pulumi/pulumi/pkg/v3/codegen/go"
	"github.com/pulumi/pulumi/pkg/v3/codegen/schema"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"golang.org/x/mod/modfile"
)

type host struct{ *front }

func main() {
	serve(&host{newFront("pulumi-language-go-run", buildFlags)})
}

// buildFlags: the old host takes the runtime options `binary` and
// `buildTarget` as start-up flags, so one old host per set of them.
func buildFlags(info *pulumirpc.ProgramInfo) []string {
	var flags []string
	for _, option := range []string{"binary", "buildTarget"} {
		if value := info.GetOptions().GetFields()[option].GetStringValue(); value != "" {
			flags = append(flags, "-"+option, value)
		}
	}
	return flags
}

// GeneratePackage writes the Go SDK of the schema into the directory.
func (h *host) GeneratePackage(
	ctx context.Context, req *pulumirpc.GeneratePackageRequest,
) (*pulumirpc.GeneratePackageResponse, error) {
	if len(req.ExtraFiles) > 0 {
		return nil, errors.New("overlays are not supported for Go")
	}
	return generatePackage(req, inputElementsOfPlainCollections,
		func(pkg *schema.Package, _ schema.ReferenceLoader) (map[string][]byte, error) {
			return gogen.GeneratePackage("pulumi-language-go", pkg, req.LocalDependencies)
		})
}

// inputElementsOfPlainCollections marks the object elements of plain maps and
// arrays as inputs. For a plain map of plain objects (the package's
// `extraRoles`) pkg/codegen/go declares the field as map[string]XxxArgs but
// generates no XxxArgs type, so the SDK does not compile; with input elements
// it declares map[string]XxxInput and generates XxxArgs. The wire format is
// the same: the element is an object either way.
func inputElementsOfPlainCollections(spec *schema.PackageSpec) {
	fix := func(p *schema.PropertySpec) {
		for _, elem := range []*schema.TypeSpec{p.AdditionalProperties, p.Items} {
			if p.Plain && elem != nil && elem.Ref != "" && elem.Plain {
				elem.Plain = false
			}
		}
	}
	for token, r := range spec.Resources {
		for name, p := range r.InputProperties {
			fix(&p)
			r.InputProperties[name] = p
		}
		spec.Resources[token] = r
	}
	for token, t := range spec.Types {
		for name, p := range t.Properties {
			fix(&p)
			t.Properties[name] = p
		}
		spec.Types[token] = t
	}
}

// Link makes each SDK directory a local module of the program: a require of
// its module path and a replace pointing at the directory, in the program's
// go.mod. (The `go mod tidy` that package add runs next keeps them only once
// the program imports the SDK; the replace stays either way, and the tidy
// after the import is written adds the require back from it.)
func (h *host) Link(ctx context.Context, req *pulumirpc.LinkRequest) (*pulumirpc.LinkResponse, error) {
	dir := req.Info.GetProgramDirectory()
	gomodPath := filepath.Join(dir, "go.mod")
	data, err := os.ReadFile(gomodPath)
	if err != nil {
		return nil, fmt.Errorf("read go.mod: %w", err)
	}
	gomod, err := modfile.Parse(gomodPath, data, nil)
	if err != nil {
		return nil, fmt.Errorf("parse go.mod: %w", err)
	}
	var instructions []string
	for _, dep := range req.Packages {
		sdkDir := filepath.Join(req.Info.GetRootDirectory(), dep.Path)
		module, err := modulePath(sdkDir)
		if err != nil {
			return nil, err
		}
		rel, err := filepath.Rel(dir, sdkDir)
		if err != nil {
			return nil, err
		}
		rel = filepath.ToSlash(rel)
		if !strings.HasPrefix(rel, "../") {
			rel = "./" + rel
		}
		if err := gomod.AddRequire(module, "v0.0.0"); err != nil {
			return nil, fmt.Errorf("add require %s: %w", module, err)
		}
		if err := gomod.AddReplace(module, "", rel, ""); err != nil {
			return nil, fmt.Errorf("add replace %s: %w", module, err)
		}
		pkgs, err := goPackages(sdkDir)
		if err != nil {
			return nil, err
		}
		for _, p := range pkgs {
			instructions = append(instructions, fmt.Sprintf("import %q", module+"/"+p))
		}
	}
	gomod.Cleanup()
	out, err := gomod.Format()
	if err != nil {
		return nil, fmt.Errorf("format go.mod: %w", err)
	}
	if err := os.WriteFile(gomodPath, out, 0o600); err != nil {
		return nil, err
	}
	return &pulumirpc.LinkResponse{ImportInstructions: strings.Join(instructions, "\n")}, nil
}

// modulePath is the module an SDK directory's go.mod declares.
func modulePath(sdkDir string) (string, error) {
	data, err := os.ReadFile(filepath.Join(sdkDir, "go.mod"))
	if err != nil {
		return "", fmt.Errorf("the generated SDK has no go.mod: %w", err)
	}
	path := modfile.ModulePath(data)
	if path == "" {
		return "", fmt.Errorf("no module line in %s", filepath.Join(sdkDir, "go.mod"))
	}
	return path, nil
}

// goPackages are the SDK's top-level package directories (those holding .go files).
func goPackages(sdkDir string) ([]string, error) {
	entries, err := os.ReadDir(sdkDir)
	if err != nil {
		return nil, err
	}
	var pkgs []string
	for _, e := range entries {
		if !e.IsDir() || e.Name() == "internal" {
			continue
		}
		if matches, _ := filepath.Glob(filepath.Join(sdkDir, e.Name(), "*.go")); len(matches) > 0 {
			pkgs = append(pkgs, e.Name())
		}
	}
	return pkgs, nil
}
