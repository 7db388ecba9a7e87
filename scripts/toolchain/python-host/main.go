// pulumi-language-python for this toolchain: the Python language host of
// pulumi/sdk v3.68.0 (the newest the module mirror serves, installed beside
// this binary as pulumi-language-python-run, started per virtualenv), plus the two requests it
// predates and `pulumi package add` needs: GeneratePackage (the Python SDK of
// a package, by pkg/codegen/python of the CLI's own release) and Link (the
// SDK into the program's requirements.txt and virtualenv). Every other request
// is passed to the old host unchanged.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	"github.com/pulumi/pulumi/pkg/v3/codegen/python"
	"github.com/pulumi/pulumi/pkg/v3/codegen/schema"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/cmdutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/emptypb"
)

const runHost = "pulumi-language-python-run"

func main() {
	self, err := os.Executable()
	if err != nil {
		cmdutil.Exit(err)
	}
	h := &host{
		runHost: filepath.Join(filepath.Dir(self), runHost),
		args:    os.Args[1:],
		hosts:   map[string]pulumirpc.LanguageRuntimeClient{},
	}
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, h)
			return nil
		},
	})
	if err != nil {
		cmdutil.Exit(fmt.Errorf("could not start language host RPC server: %w", err))
	}
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		cmdutil.Exit(fmt.Errorf("language host RPC stopped serving: %w", err))
	}
}

// startRunHost starts the old host with the engine's arguments and connects to
// the port it prints, as the engine itself would.
func startRunHost(path string, args []string) (pulumirpc.LanguageRuntimeClient, error) {
	cmd := exec.Command(path, args...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", path, err)
	}
	port, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		return nil, fmt.Errorf("reading the port of %s: %w", path, err)
	}
	go func() { _, _ = io.Copy(os.Stdout, out) }()
	conn, err := grpc.NewClient("127.0.0.1:"+strings.TrimSpace(port),
		grpc.WithTransportCredentials(insecure.NewCredentials()), rpcutil.GrpcChannelOptions())
	if err != nil {
		return nil, err
	}
	return pulumirpc.NewLanguageRuntimeClient(conn), nil
}

type host struct {
	pulumirpc.UnimplementedLanguageRuntimeServer
	runHost string
	args    []string

	mu    sync.Mutex
	hosts map[string]pulumirpc.LanguageRuntimeClient
}

// inner is the old host for a program. It takes the virtualenv as start-up
// flags (the engine of its day passed runtime options so), where today's
// engine sends them with each request: one old host per virtualenv.
func (h *host) inner(info *pulumirpc.ProgramInfo) (pulumirpc.LanguageRuntimeClient, error) {
	var flags []string
	if venv := info.GetOptions().GetFields()["virtualenv"].GetStringValue(); venv != "" {
		flags = []string{"-root", info.GetRootDirectory(), "-virtualenv", venv}
	}
	key := strings.Join(flags, "\x00")
	h.mu.Lock()
	defer h.mu.Unlock()
	if client, ok := h.hosts[key]; ok {
		return client, nil
	}
	client, err := startRunHost(h.runHost, append(flags, h.args...))
	if err != nil {
		return nil, err
	}
	h.hosts[key] = client
	return client, nil
}

func (h *host) GetRequiredPlugins(
	ctx context.Context, req *pulumirpc.GetRequiredPluginsRequest,
) (*pulumirpc.GetRequiredPluginsResponse, error) {
	inner, err := h.inner(req.GetInfo())
	if err != nil {
		return nil, err
	}
	return inner.GetRequiredPlugins(ctx, req)
}

func (h *host) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	inner, err := h.inner(req.GetInfo())
	if err != nil {
		return nil, err
	}
	return inner.Run(ctx, req)
}

func (h *host) GetPluginInfo(ctx context.Context, req *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	inner, err := h.inner(nil)
	if err != nil {
		return nil, err
	}
	return inner.GetPluginInfo(ctx, req)
}

func (h *host) About(ctx context.Context, req *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	inner, err := h.inner(req.GetInfo())
	if err != nil {
		return nil, err
	}
	return inner.About(ctx, req)
}

func (h *host) GetProgramDependencies(
	ctx context.Context, req *pulumirpc.GetProgramDependenciesRequest,
) (*pulumirpc.GetProgramDependenciesResponse, error) {
	inner, err := h.inner(req.GetInfo())
	if err != nil {
		return nil, err
	}
	return inner.GetProgramDependencies(ctx, req)
}

// relay copies a server stream of the old host to the engine.
func relay[T any](recv func() (*T, error), send func(*T) error) error {
	for {
		msg, err := recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := send(msg); err != nil {
			return err
		}
	}
}

func (h *host) InstallDependencies(
	req *pulumirpc.InstallDependenciesRequest, srv grpc.ServerStreamingServer[pulumirpc.InstallDependenciesResponse],
) error {
	inner, err := h.inner(req.GetInfo())
	if err != nil {
		return err
	}
	stream, err := inner.InstallDependencies(srv.Context(), req)
	if err != nil {
		return err
	}
	return relay(stream.Recv, srv.Send)
}

func (h *host) RunPlugin(
	req *pulumirpc.RunPluginRequest, srv grpc.ServerStreamingServer[pulumirpc.RunPluginResponse],
) error {
	inner, err := h.inner(req.GetInfo())
	if err != nil {
		return err
	}
	stream, err := inner.RunPlugin(srv.Context(), req)
	if err != nil {
		return err
	}
	return relay(stream.Recv, srv.Send)
}

// GeneratePackage writes the Python SDK of the schema into the directory.
func (h *host) GeneratePackage(
	ctx context.Context, req *pulumirpc.GeneratePackageRequest,
) (*pulumirpc.GeneratePackageResponse, error) {
	loader, err := schema.NewLoaderClient(req.LoaderTarget)
	if err != nil {
		return nil, err
	}
	var spec schema.PackageSpec
	if err := json.Unmarshal([]byte(req.Schema), &spec); err != nil {
		return nil, err
	}
	pkg, diags, err := schema.BindSpec(spec, loader, schema.ValidationOptions{})
	if err != nil {
		return nil, err
	}
	rpcDiags := plugin.HclDiagnosticsToRPCDiagnostics(diags)
	if diags.HasErrors() {
		return &pulumirpc.GeneratePackageResponse{Diagnostics: rpcDiags}, nil
	}
	files, err := python.GeneratePackage("pulumi-language-python", pkg, req.ExtraFiles, loader)
	if err != nil {
		return nil, err
	}
	for name, data := range files {
		path := filepath.Join(req.Directory, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, err
		}
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return nil, err
		}
	}
	return &pulumirpc.GeneratePackageResponse{Diagnostics: rpcDiags}, nil
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
