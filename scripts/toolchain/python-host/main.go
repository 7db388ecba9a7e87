// pulumi-language-python for this toolchain: the Python language host of
// pulumi/sdk v3.68.0 (the newest the module mirror serves, installed beside
// this binary as pulumi-language-python-run, started per virtualenv), plus the two requests it
// predates and `pulumi package add` needs: GeneratePackage (the Python SDK of
// a package, by pkg/codegen/python of the CLI's own release) and Link (the
// SDK into the program's requirements.txt and virtualenv). Every other request
// is passed to the old host unchanged (../front/front.go, built beside this file).
package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/pulumi/pulumi/pkg/v3/codegen/python"
	"github.com/pulumi/pulumi/pkg/v3/codegen/schema"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

type host struct{ *front }

func main() {
	serve(&host{newFront("pulumi-language-python-run", virtualenvFlags)})
}

// virtualenvFlags: the old host takes the virtualenv as start-up flags, so
// one old host per virtualenv.
func virtualenvFlags(info *pulumirpc.ProgramInfo) []string {
	if venv := info.GetOptions().GetFields()["virtualenv"].GetStringValue(); venv != "" {
		return []string{"-root", info.GetRootDirectory(), "-virtualenv", venv}
	}
	return nil
}

// GeneratePackage writes the Python SDK of the schema into the directory.
func (h *host) GeneratePackage(
	ctx context.Context, req *pulumirpc.GeneratePackageRequest,
) (*pulumirpc.GeneratePackageResponse, error) {
	return generatePackage(req, nil, func(pkg *schema.Package, loader schema.ReferenceLoader) (map[string][]byte, error) {
		return python.GeneratePackage("pulumi-language-python", pkg, req.ExtraFiles, loader)
	})
}

// Link adds each SDK directory to the program's requirements.txt and, when the
// program names a virtualenv, installs it there.
func (h *host) Link(ctx context.Context, req *pulumirpc.LinkRequest) (*pulumirpc.LinkResponse, error) {
	root := req.Info.GetRootDirectory()
	requirements := filepath.Join(root, "requirements.txt")
	current, err := os.ReadFile(requirements)
	if err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	lines := strings.Split(strings.TrimRight(string(current), "\n"), "\n")
	var instructions []string
	for _, dep := range req.Packages {
		path := filepath.ToSlash(dep.Path)
		if !containsLine(lines, path) {
			lines = append(lines, path)
		}
		name := strings.ReplaceAll(dep.Package.GetName(), "-", "_")
		instructions = append(instructions, fmt.Sprintf("import pulumi_%s as %s", name, name))
	}
	text := strings.TrimLeft(strings.Join(lines, "\n"), "\n") + "\n"
	if err := os.WriteFile(requirements, []byte(text), 0o600); err != nil {
		return nil, err
	}
	if venv := req.Info.GetOptions().GetFields()["virtualenv"].GetStringValue(); venv != "" {
		if !filepath.IsAbs(venv) {
			venv = filepath.Join(root, venv)
		}
		for _, dep := range req.Packages {
			pip := exec.CommandContext(ctx, filepath.Join(venv, "bin", "python"), "-m", "pip", "install", "--quiet",
				filepath.Join(root, dep.Path))
			if out, err := pip.CombinedOutput(); err != nil {
				return nil, fmt.Errorf("pip install %s: %w\n%s", dep.Path, err, out)
			}
		}
	}
	return &pulumirpc.LinkResponse{ImportInstructions: strings.Join(instructions, "\n")}, nil
}

func containsLine(lines []string, want string) bool {
	for _, l := range lines {
		if strings.TrimSpace(l) == want {
			return true
		}
	}
	return false
}
