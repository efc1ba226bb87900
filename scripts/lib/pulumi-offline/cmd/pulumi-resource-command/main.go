// pulumi-resource-command, offline stand-in.
//
// The Go module proxy this project can reach serves no version of github.com/pulumi/pulumi-command/provider
// (the provider has no tags of its own, and the proxy answers 403 to pseudo-versions), so the real plugin
// cannot be built without GitHub. This program speaks the same gRPC protocol for the parts of
// @pulumi/command 1.2.1 that mbio-cloud uses:
//
//   - command:local:Command: create, update, delete, dir, environment, interpreter, stdin, triggers,
//     logging, addPreviousOutputInEnv
//   - command:remote:Command: the same over SSH, with connection host, port, user, privateKey,
//     privateKeyPassword, password, agentSocketPath, hostKey, dialErrorLimit, perDialTimeout, proxy
//   - command:local:run: the invoke behind local.run / local.runOutput
//
// Everything else (assetPaths / archivePaths, remote.CopyToRemote, remote.CopyFile) fails with an explicit
// error. With network access scripts/toolchain.sh installs the real plugin instead (see docs/toolchain.md).
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/pulumi/pulumi/sdk/v3/go/common/diag"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/cmdutil"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/provider"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// version is what GetPluginInfo reports; toolchain.sh sets it to the @pulumi/command version with -ldflags.
var version = "1.2.1"

const (
	tokLocalCommand  = "command:local:Command"
	tokRemoteCommand = "command:remote:Command"
	tokLocalRun      = "command:local:run"
)

// Inputs of a Command. Everything else in the property map (stdout, stderr) is an output.
var commandInputs = []string{
	"addPreviousOutputInEnv", "archivePaths", "assetPaths", "connection", "create", "delete", "dir",
	"environment", "interpreter", "logging", "stdin", "triggers", "update",
}

var marshalOpts = plugin.MarshalOptions{KeepUnknowns: true, KeepSecrets: true, KeepResources: true, KeepOutputValues: false}

func main() {
	if len(os.Args) > 1 && (os.Args[1] == "-version" || os.Args[1] == "--version") {
		fmt.Println(version + " (mbio-cloud offline stand-in)")
		return
	}
	err := provider.Main("command", func(host *provider.HostClient) (pulumirpc.ResourceProviderServer, error) {
		return &commandProvider{host: host}, nil
	})
	if err != nil {
		cmdutil.ExitError(err.Error())
	}
}

type commandProvider struct {
	pulumirpc.UnimplementedResourceProviderServer
	host *provider.HostClient
}

func (p *commandProvider) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version}, nil
}

func (p *commandProvider) GetSchema(context.Context, *pulumirpc.GetSchemaRequest) (*pulumirpc.GetSchemaResponse, error) {
	return &pulumirpc.GetSchemaResponse{Schema: fmt.Sprintf(`{"name":"command","version":%q}`, version)}, nil
}

func (p *commandProvider) CheckConfig(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	return &pulumirpc.CheckResponse{Inputs: req.GetNews()}, nil
}

func (p *commandProvider) DiffConfig(context.Context, *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE}, nil
}

func (p *commandProvider) Configure(context.Context, *pulumirpc.ConfigureRequest) (*pulumirpc.ConfigureResponse, error) {
	return &pulumirpc.ConfigureResponse{AcceptSecrets: true, SupportsPreview: true, AcceptResources: true}, nil
}

func (p *commandProvider) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

func checkType(t string) error {
	switch t {
	case tokLocalCommand, tokRemoteCommand:
		return nil
	}
	return status.Errorf(codes.Unimplemented,
		"%s is not implemented by the offline stand-in of the command provider (scripts/lib/pulumi-offline); "+
			"install the real plugin (docs/toolchain.md)", t)
}

func (p *commandProvider) Check(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	urn := resource.URN(req.GetUrn())
	if err := checkType(string(urn.Type())); err != nil {
		return nil, err
	}
	news, err := plugin.UnmarshalProperties(req.GetNews(), marshalOpts)
	if err != nil {
		return nil, err
	}
	var failures []*pulumirpc.CheckFailure
	for _, k := range []string{"assetPaths", "archivePaths"} {
		if v, ok := news[resource.PropertyKey(k)]; ok && !v.IsNull() {
			failures = append(failures, &pulumirpc.CheckFailure{Property: k,
				Reason: "not supported by the offline stand-in of the command provider"})
		}
	}
	if urn.Type() == tokRemoteCommand {
		if v, ok := news["connection"]; !ok || v.IsNull() {
			failures = append(failures, &pulumirpc.CheckFailure{Property: "connection", Reason: "missing required property 'connection'"})
		}
	}
	return &pulumirpc.CheckResponse{Inputs: req.GetNews(), Failures: failures}, nil
}

// plain removes secret wrappers so values compare and run as what they are.
func plain(v resource.PropertyValue) resource.PropertyValue {
	switch {
	case v.IsSecret():
		return plain(v.SecretValue().Element)
	case v.IsOutput():
		o := v.OutputValue()
		if !o.Known {
			return resource.MakeComputed(resource.NewProperty(""))
		}
		return plain(o.Element)
	case v.IsArray():
		a := make([]resource.PropertyValue, len(v.ArrayValue()))
		for i, e := range v.ArrayValue() {
			a[i] = plain(e)
		}
		return resource.NewProperty(a)
	case v.IsObject():
		m := resource.PropertyMap{}
		for k, e := range v.ObjectValue() {
			m[k] = plain(e)
		}
		return resource.NewProperty(m)
	}
	return v
}

func hasSecret(v resource.PropertyValue) bool {
	switch {
	case v.IsSecret():
		return true
	case v.IsOutput():
		return v.OutputValue().Secret || hasSecret(v.OutputValue().Element)
	case v.IsArray():
		for _, e := range v.ArrayValue() {
			if hasSecret(e) {
				return true
			}
		}
	case v.IsObject():
		for _, e := range v.ObjectValue() {
			if hasSecret(e) {
				return true
			}
		}
	}
	return false
}

func containsUnknown(v resource.PropertyValue) bool {
	return plain(v).ContainsUnknowns()
}

func (p *commandProvider) Diff(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	oldsStruct := req.GetOldInputs()
	if oldsStruct == nil {
		oldsStruct = req.GetOlds()
	}
	olds, err := plugin.UnmarshalProperties(oldsStruct, marshalOpts)
	if err != nil {
		return nil, err
	}
	news, err := plugin.UnmarshalProperties(req.GetNews(), marshalOpts)
	if err != nil {
		return nil, err
	}
	ignored := map[string]bool{}
	for _, k := range req.GetIgnoreChanges() {
		ignored[k] = true
	}
	var diffs, replaces []string
	for _, k := range commandInputs {
		if ignored[k] {
			continue
		}
		o, n := plain(olds[resource.PropertyKey(k)]), plain(news[resource.PropertyKey(k)])
		if o.IsNull() && n.IsNull() {
			continue
		}
		if containsUnknown(n) || !o.DeepEquals(n) {
			diffs = append(diffs, k)
			if k == "triggers" {
				replaces = append(replaces, k)
			}
		}
	}
	changes := pulumirpc.DiffResponse_DIFF_NONE
	if len(diffs) > 0 {
		changes = pulumirpc.DiffResponse_DIFF_SOME
	}
	return &pulumirpc.DiffResponse{Changes: changes, Diffs: diffs, Replaces: replaces}, nil
}

func newID(name string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return name + hex.EncodeToString(b)
}

// outputs are the inputs plus stdout and stderr. When any input is secret, stdout and stderr are too (the
// real provider's framework does the same): a remote command's connection is always secret.
func outputs(inputs resource.PropertyMap, stdout, stderr *string) resource.PropertyMap {
	out := resource.PropertyMap{}
	secret := false
	for _, k := range commandInputs {
		if v, ok := inputs[resource.PropertyKey(k)]; ok {
			out[resource.PropertyKey(k)] = v
			secret = secret || hasSecret(v)
		}
	}
	wrap := func(s *string) resource.PropertyValue {
		v := resource.MakeComputed(resource.NewProperty(""))
		if s != nil {
			v = resource.NewProperty(*s)
		}
		if secret {
			v = resource.MakeSecret(v)
		}
		return v
	}
	out["stdout"] = wrap(stdout)
	out["stderr"] = wrap(stderr)
	return out
}

func (p *commandProvider) Create(ctx context.Context, req *pulumirpc.CreateRequest) (*pulumirpc.CreateResponse, error) {
	urn := resource.URN(req.GetUrn())
	if err := checkType(string(urn.Type())); err != nil {
		return nil, err
	}
	inputs, err := plugin.UnmarshalProperties(req.GetProperties(), marshalOpts)
	if err != nil {
		return nil, err
	}
	var props resource.PropertyMap
	if req.GetPreview() {
		props = outputs(inputs, nil, nil)
	} else {
		stdout, stderr := "", ""
		if cmd := str(inputs, "create"); cmd != "" {
			stdout, stderr, err = p.run(ctx, urn, inputs, cmd, nil)
			if err != nil {
				return nil, err
			}
		}
		props = outputs(inputs, &stdout, &stderr)
	}
	st, err := plugin.MarshalProperties(props, marshalOpts)
	if err != nil {
		return nil, err
	}
	id := ""
	if !req.GetPreview() {
		id = newID(urn.Name())
	}
	return &pulumirpc.CreateResponse{Id: id, Properties: st}, nil
}

func (p *commandProvider) Read(_ context.Context, req *pulumirpc.ReadRequest) (*pulumirpc.ReadResponse, error) {
	// Commands have no remote state to read back: refresh keeps what the last run recorded.
	return &pulumirpc.ReadResponse{Id: req.GetId(), Properties: req.GetProperties(), Inputs: req.GetInputs()}, nil
}

func (p *commandProvider) Update(ctx context.Context, req *pulumirpc.UpdateRequest) (*pulumirpc.UpdateResponse, error) {
	urn := resource.URN(req.GetUrn())
	if err := checkType(string(urn.Type())); err != nil {
		return nil, err
	}
	olds, err := plugin.UnmarshalProperties(req.GetOlds(), marshalOpts)
	if err != nil {
		return nil, err
	}
	news, err := plugin.UnmarshalProperties(req.GetNews(), marshalOpts)
	if err != nil {
		return nil, err
	}
	cmd := str(news, "update")
	if cmd == "" {
		cmd = str(news, "create")
	}
	var props resource.PropertyMap
	switch {
	case req.GetPreview() && cmd != "":
		props = outputs(news, nil, nil)
	case cmd == "":
		oldOut, oldErr := str(olds, "stdout"), str(olds, "stderr")
		props = outputs(news, &oldOut, &oldErr)
	default:
		stdout, stderr, err := p.run(ctx, urn, news, cmd, olds)
		if err != nil {
			return nil, err
		}
		props = outputs(news, &stdout, &stderr)
	}
	st, err := plugin.MarshalProperties(props, marshalOpts)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.UpdateResponse{Properties: st}, nil
}

func (p *commandProvider) Delete(ctx context.Context, req *pulumirpc.DeleteRequest) (*emptypb.Empty, error) {
	urn := resource.URN(req.GetUrn())
	if err := checkType(string(urn.Type())); err != nil {
		return nil, err
	}
	olds, err := plugin.UnmarshalProperties(req.GetProperties(), marshalOpts)
	if err != nil {
		return nil, err
	}
	if cmd := str(olds, "delete"); cmd != "" {
		if _, _, err := p.run(ctx, urn, olds, cmd, olds); err != nil {
			return nil, err
		}
	}
	return &emptypb.Empty{}, nil
}

func (p *commandProvider) Invoke(ctx context.Context, req *pulumirpc.InvokeRequest) (*pulumirpc.InvokeResponse, error) {
	if req.GetTok() != tokLocalRun {
		return nil, status.Errorf(codes.Unimplemented,
			"%s is not implemented by the offline stand-in of the command provider", req.GetTok())
	}
	args, err := plugin.UnmarshalProperties(req.GetArgs(), marshalOpts)
	if err != nil {
		return nil, err
	}
	for _, k := range []string{"assetPaths", "archivePaths"} {
		if v, ok := args[resource.PropertyKey(k)]; ok && !v.IsNull() {
			return nil, fmt.Errorf("local.run: %s is not supported by the offline stand-in", k)
		}
	}
	stdout, stderr, err := p.run(ctx, "", args, str(args, "command"), nil)
	if err != nil {
		return nil, err
	}
	ret := resource.PropertyMap{}
	for k, v := range args {
		ret[k] = v
	}
	ret["stdout"] = resource.NewProperty(stdout)
	ret["stderr"] = resource.NewProperty(stderr)
	st, err := plugin.MarshalProperties(ret, marshalOpts)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.InvokeResponse{Return: st}, nil
}

// str reads a string property, secret or not; "" when absent, null or unknown.
func str(m resource.PropertyMap, key string) string {
	v := plain(m[resource.PropertyKey(key)])
	if v.IsString() {
		return v.StringValue()
	}
	return ""
}

func strMap(m resource.PropertyMap, key string) map[string]string {
	out := map[string]string{}
	v := plain(m[resource.PropertyKey(key)])
	if !v.IsObject() {
		return out
	}
	for k, e := range v.ObjectValue() {
		if e.IsString() {
			out[string(k)] = e.StringValue()
		} else if !e.IsNull() {
			out[string(k)] = fmt.Sprint(e.V)
		}
	}
	return out
}

// commandEnv is the command's extra environment: its `environment` input, plus the previous run's output
// as PULUMI_COMMAND_STDOUT / PULUMI_COMMAND_STDERR on update and delete unless addPreviousOutputInEnv is false.
func commandEnv(inputs, previous resource.PropertyMap) map[string]string {
	env := strMap(inputs, "environment")
	if previous != nil {
		add := true
		if v := plain(inputs["addPreviousOutputInEnv"]); v.IsBool() {
			add = v.BoolValue()
		}
		if add {
			env["PULUMI_COMMAND_STDOUT"] = str(previous, "stdout")
			env["PULUMI_COMMAND_STDERR"] = str(previous, "stderr")
		}
	}
	return env
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// logWriter forwards complete lines of a command's output to the Pulumi display (status column).
type logWriter struct {
	ctx  context.Context
	p    *commandProvider
	urn  resource.URN
	buf  strings.Builder
	sink *strings.Builder
	on   bool
}

func (w *logWriter) Write(b []byte) (int, error) {
	w.sink.Write(b)
	if !w.on || w.p.host == nil {
		return len(b), nil
	}
	w.buf.Write(b)
	s := w.buf.String()
	for {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			break
		}
		_ = w.p.host.LogStatus(w.ctx, diag.Info, w.urn, s[:i])
		s = s[i+1:]
	}
	w.buf.Reset()
	w.buf.WriteString(s)
	return len(b), nil
}

func (p *commandProvider) writers(ctx context.Context, urn resource.URN, inputs resource.PropertyMap) (*logWriter, *logWriter) {
	logging := str(inputs, "logging")
	if logging == "" {
		logging = "stdoutAndStderr"
	}
	out := &logWriter{ctx: ctx, p: p, urn: urn, sink: &strings.Builder{}, on: logging == "stdout" || logging == "stdoutAndStderr"}
	errw := &logWriter{ctx: ctx, p: p, urn: urn, sink: &strings.Builder{}, on: logging == "stderr" || logging == "stdoutAndStderr"}
	return out, errw
}

func (p *commandProvider) run(ctx context.Context, urn resource.URN, inputs resource.PropertyMap, cmd string,
	previous resource.PropertyMap,
) (string, string, error) {
	out, errw := p.writers(ctx, urn, inputs)
	env := commandEnv(inputs, previous)
	stdin := str(inputs, "stdin")
	var err error
	if urn != "" && urn.Type() == tokRemoteCommand {
		err = runRemote(ctx, plain(inputs["connection"]), cmd, env, stdin, out, errw)
	} else {
		err = runLocal(ctx, inputs, cmd, env, stdin, out, errw)
	}
	stdout := strings.TrimSuffix(out.sink.String(), "\n")
	stderr := strings.TrimSuffix(errw.sink.String(), "\n")
	if err != nil {
		var b strings.Builder
		fmt.Fprintf(&b, "%v: running %q:", err, cmd)
		if stdout != "" {
			fmt.Fprintf(&b, "\n%s", stdout)
		}
		if stderr != "" {
			fmt.Fprintf(&b, "\n%s", stderr)
		}
		return stdout, stderr, errors.New(b.String())
	}
	return stdout, stderr, nil
}
