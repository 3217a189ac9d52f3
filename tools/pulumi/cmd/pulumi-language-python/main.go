// Command pulumi-language-python is a small Python language host for the Pulumi engine.
//
// The upstream language host lives in its own untagged Go module that the module proxy reachable
// from this project's machines does not serve, so this project carries a minimal implementation of
// the LanguageRuntime gRPC service that covers what the kit needs:
//
//   - Run: runs a Python program through pulumi-language-python-exec (the upstream runner script from
//     the sdk/v3 module, installed next to this binary) with the engine's settings and config;
//   - RunPlugin: runs Python plugins, in particular policy packs, the way the engine expects since
//     CLI v3.221 (`python -u -m pulumi.policy <engine> <packDir>`), streaming their output back;
//   - the informational calls (handshake, plugin info, about, dependencies) with honest answers.
//
// Plugins are not discovered up front (GetRequiredPackages answers with none): the engine loads the
// providers a program asks for when the program registers resources.
//
// The Python interpreter is, in order: the `virtualenv` runtime option of Pulumi.yaml (relative to
// the project root), $PULUMI_PYTHON_CMD, then python3 on PATH.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/version"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
)

// execScriptName is the upstream runner script that must sit next to this binary.
const execScriptName = "pulumi-language-python-exec"

// userActionableExitCode is the exit code the runner uses after it has shown the user a message.
const userActionableExitCode = 32

type host struct {
	pulumirpc.UnimplementedLanguageRuntimeServer
	engineAddress string
	execScript    string
	options       map[string]string
}

func main() {
	if len(os.Args) > 1 && (os.Args[1] == "--version" || os.Args[1] == "-version") {
		fmt.Println(version.Version)
		return
	}
	h := &host{options: map[string]string{}}
	// The engine passes runtime options as -name=value flags, then the engine address.
	for _, a := range os.Args[1:] {
		if strings.HasPrefix(a, "-") {
			k, v, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
			h.options[k] = v
			continue
		}
		h.engineAddress = a
	}
	self, err := os.Executable()
	if err != nil {
		fatal(err)
	}
	h.execScript = filepath.Join(filepath.Dir(self), execScriptName)
	if st, err := os.Stat(h.execScript); err != nil || st.Mode()&0o111 == 0 {
		fatal(fmt.Errorf("%s must sit next to %s and be executable", execScriptName, self))
	}
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, h)
			return nil
		},
	})
	if err != nil {
		fatal(err)
	}
	// The engine reads the port from the first line of stdout.
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		fatal(err)
	}
}

func fatal(err error) {
	fmt.Fprintf(os.Stderr, "pulumi-language-python: %v\n", err)
	os.Exit(1)
}

// python picks the interpreter for a program or plugin rooted at root.
func (h *host) python(root string, opts *structpb.Struct) string {
	venv := h.options["virtualenv"]
	if opts != nil {
		if v, ok := opts.GetFields()["virtualenv"]; ok && v.GetStringValue() != "" {
			venv = v.GetStringValue()
		}
	}
	if venv != "" {
		if !filepath.IsAbs(venv) {
			venv = filepath.Join(root, venv)
		}
		return filepath.Join(venv, "bin", "python")
	}
	if cmd := os.Getenv("PULUMI_PYTHON_CMD"); cmd != "" {
		return cmd
	}
	return "python3"
}

func (h *host) Handshake(
	_ context.Context, req *pulumirpc.LanguageHandshakeRequest,
) (*pulumirpc.LanguageHandshakeResponse, error) {
	if req.GetEngineAddress() != "" {
		h.engineAddress = req.GetEngineAddress()
	}
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *host) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version.Version}, nil
}

func (h *host) GetRequiredPlugins(
	context.Context, *pulumirpc.GetRequiredPluginsRequest,
) (*pulumirpc.GetRequiredPluginsResponse, error) {
	return &pulumirpc.GetRequiredPluginsResponse{}, nil
}

func (h *host) GetRequiredPackages(
	context.Context, *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	return &pulumirpc.GetRequiredPackagesResponse{}, nil
}

func (h *host) GetProgramDependencies(
	context.Context, *pulumirpc.GetProgramDependenciesRequest,
) (*pulumirpc.GetProgramDependenciesResponse, error) {
	return &pulumirpc.GetProgramDependenciesResponse{}, nil
}

// InstallDependencies installs nothing: the kit's programs run in a prepared virtualenv.
func (h *host) InstallDependencies(
	*pulumirpc.InstallDependenciesRequest,
	grpc.ServerStreamingServer[pulumirpc.InstallDependenciesResponse],
) error {
	return nil
}

func (h *host) About(_ context.Context, req *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	root := ""
	var opts *structpb.Struct
	if info := req.GetInfo(); info != nil {
		root, opts = info.GetRootDirectory(), info.GetOptions()
	}
	py := h.python(root, opts)
	out, err := exec.Command(py, "--version").Output()
	if err != nil {
		return nil, fmt.Errorf("running %s --version: %w", py, err)
	}
	v := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(string(out)), "Python"))
	return &pulumirpc.AboutResponse{Executable: py, Version: v}, nil
}

func (h *host) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	info := req.GetInfo()
	root, progDir, entry := req.GetPwd(), req.GetPwd(), req.GetProgram()
	var opts *structpb.Struct
	if info != nil {
		root, progDir, entry, opts = info.GetRootDirectory(), info.GetProgramDirectory(),
			info.GetEntryPoint(), info.GetOptions()
	}
	if entry == "" {
		entry = "."
	}
	program := filepath.Join(progDir, entry)

	args := []string{h.execScript}
	if req.GetProject() != "" {
		args = append(args, "--project", req.GetProject())
	}
	if req.GetStack() != "" {
		args = append(args, "--stack", req.GetStack())
	}
	if req.GetPwd() != "" {
		args = append(args, "--pwd", req.GetPwd())
	}
	if req.GetDryRun() {
		args = append(args, "--dry_run", "true")
	}
	args = append(args, "--parallel", fmt.Sprint(req.GetParallel()))
	if req.GetMonitorAddress() != "" {
		args = append(args, "--monitor", req.GetMonitorAddress())
	}
	if h.engineAddress != "" {
		args = append(args, "--engine", h.engineAddress)
	}
	if req.GetOrganization() != "" {
		args = append(args, "--organization", req.GetOrganization())
	}
	if root != "" {
		args = append(args, "--root_directory", root)
	}
	args = append(args, program)
	args = append(args, req.GetArgs()...)

	configMap := req.GetConfig()
	if configMap == nil {
		configMap = map[string]string{}
	}
	config, err := json.Marshal(configMap)
	if err != nil {
		return nil, err
	}
	secretKeys := req.GetConfigSecretKeys()
	if secretKeys == nil {
		secretKeys = []string{}
	}
	secrets, err := json.Marshal(secretKeys)
	if err != nil {
		return nil, err
	}

	cmd := exec.CommandContext(ctx, h.python(root, opts), args...)
	cmd.Dir = req.GetPwd()
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(),
		"PULUMI_CONFIG="+string(config),
		"PULUMI_CONFIG_SECRET_KEYS="+string(secrets),
		"PYTHONUNBUFFERED=1",
	)
	if err := cmd.Run(); err != nil {
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			if exitErr.ExitCode() == userActionableExitCode {
				return &pulumirpc.RunResponse{Bail: true}, nil
			}
			return &pulumirpc.RunResponse{
				Error: fmt.Sprintf("Program exited with non-zero exit code: %d", exitErr.ExitCode()),
			}, nil
		}
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	return &pulumirpc.RunResponse{}, nil
}

// streamWriter forwards a plugin's output to the engine as RunPlugin responses.
type streamWriter struct {
	mu     *sync.Mutex
	server grpc.ServerStreamingServer[pulumirpc.RunPluginResponse]
	stderr bool
}

func (w streamWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	data := append([]byte(nil), p...)
	resp := &pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Stdout{Stdout: data}}
	if w.stderr {
		resp = &pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Stderr{Stderr: data}}
	}
	if err := w.server.Send(resp); err != nil {
		return 0, err
	}
	return len(p), nil
}

// RunPlugin runs a Python plugin: a policy pack (kind "analyzer") through pulumi.policy, anything
// else by running the plugin directory's __main__.py.
func (h *host) RunPlugin(
	req *pulumirpc.RunPluginRequest, server grpc.ServerStreamingServer[pulumirpc.RunPluginResponse],
) error {
	info := req.GetInfo()
	dir := req.GetProgram()
	root := dir
	var opts *structpb.Struct
	if info != nil {
		if info.GetProgramDirectory() != "" {
			dir = info.GetProgramDirectory()
		}
		if info.GetRootDirectory() != "" {
			root = info.GetRootDirectory()
		}
		opts = info.GetOptions()
	}
	var args []string
	if req.GetKind() == "analyzer" {
		args = append([]string{"-u", "-m", "pulumi.policy"}, req.GetArgs()...)
		args = append(args, dir)
	} else {
		args = append([]string{"-u", dir}, req.GetArgs()...)
	}
	var mu sync.Mutex
	cmd := exec.CommandContext(server.Context(), h.python(root, opts), args...)
	cmd.Dir = req.GetPwd()
	cmd.Env = req.GetEnv()
	if len(cmd.Env) == 0 {
		cmd.Env = os.Environ()
	}
	cmd.Stdout = streamWriter{mu: &mu, server: server}
	cmd.Stderr = streamWriter{mu: &mu, server: server, stderr: true}
	code := 0
	if err := cmd.Run(); err != nil {
		var exitErr *exec.ExitError
		if !errors.As(err, &exitErr) {
			_, _ = io.WriteString(cmd.Stderr, err.Error()+"\n")
			code = 1
		} else {
			code = exitErr.ExitCode()
		}
	}
	mu.Lock()
	defer mu.Unlock()
	return server.Send(&pulumirpc.RunPluginResponse{
		Output: &pulumirpc.RunPluginResponse_Exitcode{Exitcode: int32(code)},
	})
}
