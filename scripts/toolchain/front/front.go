// The part of this toolchain's language hosts that every language shares
// (copied beside python-host/main.go and go-host/main.go when they are built):
// a front that serves the engine, starts the old in-tree host of that language
// (pulumi/sdk v3.6x, installed beside it as pulumi-language-<lang>-run) once per
// set of start-up flags, and passes it every request the front does not answer
// itself. Each language adds GeneratePackage and Link, which the old hosts
// predate and `pulumi package add` needs.
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

	"github.com/pulumi/pulumi/pkg/v3/codegen/schema"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/cmdutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/emptypb"
)

// front passes requests on to the old host; flags are the old host's start-up
// flags for a program (the engine of its day passed runtime options so, where
// today's engine sends them with each request).
type front struct {
	pulumirpc.UnimplementedLanguageRuntimeServer
	runHost string
	args    []string
	flags   func(info *pulumirpc.ProgramInfo) []string

	mu    sync.Mutex
	hosts map[string]pulumirpc.LanguageRuntimeClient
}

// newFront is a front for the old host named runHost beside this binary.
func newFront(runHost string, flags func(info *pulumirpc.ProgramInfo) []string) *front {
	self, err := os.Executable()
	if err != nil {
		cmdutil.Exit(err)
	}
	return &front{
		runHost: filepath.Join(filepath.Dir(self), runHost),
		args:    os.Args[1:],
		flags:   flags,
		hosts:   map[string]pulumirpc.LanguageRuntimeClient{},
	}
}

// serve serves the language host and prints its port, as the engine expects.
func serve(host pulumirpc.LanguageRuntimeServer) {
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, host)
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

// inner is the old host for a program: one per set of start-up flags.
func (f *front) inner(info *pulumirpc.ProgramInfo) (pulumirpc.LanguageRuntimeClient, error) {
	flags := f.flags(info)
	key := strings.Join(flags, "\x00")
	f.mu.Lock()
	defer f.mu.Unlock()
	if client, ok := f.hosts[key]; ok {
		return client, nil
	}
	client, err := startRunHost(f.runHost, append(flags, f.args...))
	if err != nil {
		return nil, err
	}
	f.hosts[key] = client
	return client, nil
}

func (f *front) GetRequiredPlugins(
	ctx context.Context, req *pulumirpc.GetRequiredPluginsRequest,
) (*pulumirpc.GetRequiredPluginsResponse, error) {
	inner, err := f.inner(req.GetInfo())
	if err != nil {
		return nil, err
	}
	return inner.GetRequiredPlugins(ctx, req)
}

func (f *front) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	inner, err := f.inner(req.GetInfo())
	if err != nil {
		return nil, err
	}
	return inner.Run(ctx, req)
}

func (f *front) GetPluginInfo(ctx context.Context, req *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	inner, err := f.inner(nil)
	if err != nil {
		return nil, err
	}
	return inner.GetPluginInfo(ctx, req)
}

func (f *front) About(ctx context.Context, req *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	inner, err := f.inner(req.GetInfo())
	if err != nil {
		return nil, err
	}
	return inner.About(ctx, req)
}

func (f *front) GetProgramDependencies(
	ctx context.Context, req *pulumirpc.GetProgramDependenciesRequest,
) (*pulumirpc.GetProgramDependenciesResponse, error) {
	inner, err := f.inner(req.GetInfo())
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

func (f *front) InstallDependencies(
	req *pulumirpc.InstallDependenciesRequest, srv grpc.ServerStreamingServer[pulumirpc.InstallDependenciesResponse],
) error {
	inner, err := f.inner(req.GetInfo())
	if err != nil {
		return err
	}
	stream, err := inner.InstallDependencies(srv.Context(), req)
	if err != nil {
		return err
	}
	return relay(stream.Recv, srv.Send)
}

func (f *front) RunPlugin(
	req *pulumirpc.RunPluginRequest, srv grpc.ServerStreamingServer[pulumirpc.RunPluginResponse],
) error {
	inner, err := f.inner(req.GetInfo())
	if err != nil {
		return err
	}
	stream, err := inner.RunPlugin(srv.Context(), req)
	if err != nil {
		return err
	}
	return relay(stream.Recv, srv.Send)
}

// generatePackage is GeneratePackage for a language: binds the request's
// schema (after patch, when given) and writes what gen makes of it into the
// request's directory.
func generatePackage(
	req *pulumirpc.GeneratePackageRequest,
	patch func(spec *schema.PackageSpec),
	gen func(pkg *schema.Package, loader schema.ReferenceLoader) (map[string][]byte, error),
) (*pulumirpc.GeneratePackageResponse, error) {
	loader, err := schema.NewLoaderClient(req.LoaderTarget)
	if err != nil {
		return nil, err
	}
	defer loader.Close()
	var spec schema.PackageSpec
	if err := json.Unmarshal([]byte(req.Schema), &spec); err != nil {
		return nil, err
	}
	if patch != nil {
		patch(&spec)
	}
	cached := schema.NewCachedLoader(loader)
	pkg, diags, err := schema.BindSpec(spec, cached, schema.ValidationOptions{})
	if err != nil {
		return nil, err
	}
	rpcDiags := plugin.HclDiagnosticsToRPCDiagnostics(diags)
	if diags.HasErrors() {
		return &pulumirpc.GeneratePackageResponse{Diagnostics: rpcDiags}, nil
	}
	files, err := gen(pkg, cached)
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
