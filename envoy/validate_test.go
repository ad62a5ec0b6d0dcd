package envoy

// Offline validation of the Envoy bootstraps in this directory against
// Envoy's own protos (go-control-plane), plus the cross-file checks Envoy
// cannot make for us: routes name existing clusters, the wasm filter loads the
// file docker-compose.yml mounts, and the inlined plugin configuration equals
// mcpgate-config.json.
//
//	go test ./envoy                 # check
//	go test ./envoy -run Inlined -update
//	                                # copy mcpgate-config.json into the YAML files

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	dfpclusterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/clusters/dynamic_forward_proxy/v3"
	wasmfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/wasm/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	upstreamhttpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/wrapperspb"
	"sigs.k8s.io/yaml"

	// Every "@type" used in the bootstraps must be registered, or protojson
	// fails with "unable to resolve". The packages imported by name above
	// register theirs; these register the rest.
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/stream/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/local_ratelimit/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/formatter/req_without_query/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/rate_limit_descriptors/expr/v3"
)

const (
	// wasmFile is where the bootstraps load the module and where
	// docker-compose.yml mounts build/mcpgate.wasm.
	wasmFile    = "/etc/mcpgate/mcpgate.wasm"
	wasmRuntime = "envoy.wasm.runtime.v8"
	// pluginConfigFile is the plugin configuration the bootstraps inline
	// (see pluginConfigFor for variants).
	pluginConfigFile = "mcpgate-config.json"

	wasmFilterName   = "envoy.filters.http.wasm"
	routerFilterName = "envoy.filters.http.router"
)

// bootstrapFiles returns the Envoy bootstraps in this directory: every *.yaml
// except Kubernetes manifests (those with apiVersion).
func bootstrapFiles(t *testing.T) []string {
	t.Helper()
	names, err := filepath.Glob("*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, name := range names {
		var top map[string]any
		if err := yaml.Unmarshal(mustRead(t, name), &top); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, ok := top["apiVersion"]; ok {
			continue
		}
		if _, ok := top["static_resources"]; !ok {
			t.Fatalf("%s: neither an Envoy bootstrap (static_resources) nor a Kubernetes manifest (apiVersion)", name)
		}
		out = append(out, name)
	}
	for _, want := range []string{"envoy.yaml", "envoy-dfp.yaml"} {
		if !slices.Contains(out, want) {
			t.Fatalf("bootstrap %s not found (have %v)", want, out)
		}
	}
	return out
}

func mustRead(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// parseBootstrap converts YAML to JSON and parses it strictly (unknown fields,
// bad enums and unregistered @types are errors).
func parseBootstrap(yamlText []byte) (*bootstrapv3.Bootstrap, error) {
	js, err := yaml.YAMLToJSON(yamlText)
	if err != nil {
		return nil, fmt.Errorf("yaml: %w", err)
	}
	b := &bootstrapv3.Bootstrap{}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: false}).Unmarshal(js, b); err != nil {
		return nil, fmt.Errorf("protojson: %w", err)
	}
	return b, nil
}

type validator interface{ ValidateAll() error }

// walk visits m and every message below it, unpacking each google.protobuf.Any
// on the way (so that typed configs are visited too). An Any that cannot be
// unpacked is reported through errs. path names the field chain; unpacked Anys
// appear as <type.Name>.
func walk(m protoreflect.Message, path string, visit func(path string, m protoreflect.Message), errs *[]error) {
	visit(path, m)
	if a, ok := m.Interface().(*anypb.Any); ok {
		inner, err := anypb.UnmarshalNew(a, proto.UnmarshalOptions{})
		if err != nil {
			*errs = append(*errs, fmt.Errorf("%s: Any %q: %w", path, a.GetTypeUrl(), err))
			return
		}
		walk(inner.ProtoReflect(), path+"<"+string(inner.ProtoReflect().Descriptor().FullName())+">", visit, errs)
		return
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		name := path + "." + string(fd.Name())
		switch {
		case fd.IsList() && fd.Message() != nil:
			l := v.List()
			for i := range l.Len() {
				walk(l.Get(i).Message(), fmt.Sprintf("%s[%d]", name, i), visit, errs)
			}
		case fd.IsMap() && fd.MapValue().Message() != nil:
			v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				walk(mv.Message(), fmt.Sprintf("%s[%v]", name, k.Interface()), visit, errs)
				return true
			})
		case !fd.IsList() && !fd.IsMap() && fd.Message() != nil:
			walk(v.Message(), name, visit, errs)
		}
		return true
	})
}

// validateProtos runs the protoc-gen-validate rules on the bootstrap and, as
// ValidateAll does not descend into Any fields, on every unpacked Any. It also
// rejects deprecated fields and enum values, which Envoy warns about today and
// refuses in a later release.
func validateProtos(b *bootstrapv3.Bootstrap) []error {
	var errs []error
	if err := b.ValidateAll(); err != nil {
		errs = append(errs, fmt.Errorf("bootstrap: %w", err))
	}
	walk(b.ProtoReflect(), "bootstrap", func(path string, m protoreflect.Message) {
		if strings.HasSuffix(path, ">") { // an unpacked Any
			if v, ok := m.Interface().(validator); ok {
				if err := v.ValidateAll(); err != nil {
					errs = append(errs, fmt.Errorf("%s: %w", path, err))
				}
			}
		}
		m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
			if fo, ok := fd.Options().(*descriptorpb.FieldOptions); ok && fo.GetDeprecated() {
				errs = append(errs, fmt.Errorf("%s.%s: deprecated field", path, fd.Name()))
			}
			if fd.Kind() == protoreflect.EnumKind {
				check := func(n protoreflect.EnumNumber) {
					ev := fd.Enum().Values().ByNumber(n)
					if ev == nil {
						return
					}
					if eo, ok := ev.Options().(*descriptorpb.EnumValueOptions); ok && eo.GetDeprecated() {
						errs = append(errs, fmt.Errorf("%s.%s: deprecated value %s", path, fd.Name(), ev.Name()))
					}
				}
				if fd.IsList() {
					for i := range v.List().Len() {
						check(v.List().Get(i).Enum())
					}
				} else if !fd.IsMap() {
					check(v.Enum())
				}
			}
			return true
		})
	}, &errs)
	return errs
}

// collect returns every message of type T in b, Anys unpacked, with its path.
func collect[T proto.Message](b proto.Message) (paths []string, out []T) {
	var errs []error
	walk(b.ProtoReflect(), "bootstrap", func(path string, m protoreflect.Message) {
		if v, ok := m.Interface().(T); ok {
			paths = append(paths, path)
			out = append(out, v)
		}
	}, &errs)
	return paths, out
}

// checkBootstrap runs every check on one bootstrap; pluginConfig is the
// expected plugin configuration (mcpgate-config.json).
func checkBootstrap(yamlText, pluginConfig []byte) []error {
	b, err := parseBootstrap(yamlText)
	if err != nil {
		return []error{err}
	}
	errs := validateProtos(b)
	errs = append(errs, checkRoutes(b)...)
	errs = append(errs, checkWasmFilter(b, pluginConfig)...)
	errs = append(errs, checkConfigClusters(b, pluginConfig)...)
	return errs
}

// pluginConfigFor names the plugin configuration a bootstrap must inline:
// envoy-X.yaml inlines mcpgate-config-X.json when that file exists (a variant
// that needs its own settings, e.g. CIMD in forward-proxy mode), and
// mcpgate-config.json otherwise.
func pluginConfigFor(bootstrap string) string {
	if v, ok := strings.CutPrefix(strings.TrimSuffix(bootstrap, ".yaml"), "envoy-"); ok {
		name := "mcpgate-config-" + v + ".json"
		if _, err := os.Stat(name); err == nil {
			return name
		}
	}
	return pluginConfigFile
}

// checkConfigClusters: every cluster the plugin configuration names (any
// string member whose key ends in "cluster", e.g. cimd.egress_cluster) exists.
// Envoy only finds out when the filter makes its first callout.
func checkConfigClusters(b *bootstrapv3.Bootstrap, pluginConfig []byte) []error {
	clusters := map[string]bool{}
	for _, c := range b.GetStaticResources().GetClusters() {
		clusters[c.GetName()] = true
	}
	var doc any
	if err := json.Unmarshal(pluginConfig, &doc); err != nil {
		return []error{fmt.Errorf("plugin configuration: %w", err)}
	}
	var errs []error
	var visit func(path string, v any)
	visit = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				if s, ok := e.(string); ok && strings.HasSuffix(k, "cluster") && !clusters[s] {
					errs = append(errs, fmt.Errorf("plugin configuration %s.%s names cluster %q, which does not exist", path, k, s))
				}
				visit(path+"."+k, e)
			}
		case []any:
			for i, e := range v {
				visit(fmt.Sprintf("%s[%d]", path, i), e)
			}
		}
	}
	visit("$", doc)
	return errs
}

// checkRoutes: every route's cluster exists (Envoy only finds out at load).
func checkRoutes(b *bootstrapv3.Bootstrap) []error {
	clusters := map[string]bool{}
	for _, c := range b.GetStaticResources().GetClusters() {
		clusters[c.GetName()] = true
	}
	var errs []error
	paths, actions := collect[*routev3.RouteAction](b)
	if len(actions) == 0 {
		errs = append(errs, errors.New("no route actions found"))
	}
	for i, a := range actions {
		var names []string
		switch spec := a.GetClusterSpecifier().(type) {
		case *routev3.RouteAction_Cluster:
			names = []string{spec.Cluster}
		case *routev3.RouteAction_WeightedClusters:
			for _, wc := range spec.WeightedClusters.GetClusters() {
				names = append(names, wc.GetName())
			}
		default:
			errs = append(errs, fmt.Errorf("%s: cluster specifier %T cannot be checked offline", paths[i], spec))
		}
		for _, n := range names {
			if !clusters[n] {
				errs = append(errs, fmt.Errorf("%s: route to cluster %q, which does not exist", paths[i], n))
			}
		}
	}
	return errs
}

// checkWasmFilter: each HTTP connection manager runs exactly one mcpgate wasm
// filter, before the router, which is last; the filter loads wasmFile with V8
// and carries pluginConfig as a StringValue.
func checkWasmFilter(b *bootstrapv3.Bootstrap, pluginConfig []byte) []error {
	var errs []error
	paths, hcms := collect[*hcmv3.HttpConnectionManager](b)
	if len(hcms) == 0 {
		return []error{errors.New("no HTTP connection manager found")}
	}
	for i, hcm := range hcms {
		path := paths[i]
		filters := hcm.GetHttpFilters()
		var wasm []int
		for j, f := range filters {
			if f.GetName() == wasmFilterName {
				wasm = append(wasm, j)
			}
		}
		if len(wasm) != 1 {
			errs = append(errs, fmt.Errorf("%s: %d wasm filters, want 1", path, len(wasm)))
			continue
		}
		if n := len(filters); filters[n-1].GetName() != routerFilterName {
			errs = append(errs, fmt.Errorf("%s: last HTTP filter is %q, want the router", path, filters[n-1].GetName()))
		}
		var w wasmfilterv3.Wasm
		if err := filters[wasm[0]].GetTypedConfig().UnmarshalTo(&w); err != nil {
			errs = append(errs, fmt.Errorf("%s: wasm typed_config: %w", path, err))
			continue
		}
		cfg := w.GetConfig()
		vm := cfg.GetVmConfig()
		if got := vm.GetRuntime(); got != wasmRuntime {
			errs = append(errs, fmt.Errorf("%s: wasm runtime %q, want %q", path, got, wasmRuntime))
		}
		if got := vm.GetCode().GetLocal().GetFilename(); got != wasmFile {
			errs = append(errs, fmt.Errorf("%s: wasm file %q, want %q", path, got, wasmFile))
		}
		if vm.GetVmId() != "mcpgate" || cfg.GetRootId() != "mcpgate" {
			errs = append(errs, fmt.Errorf("%s: vm_id %q / root_id %q, want mcpgate / mcpgate", path, vm.GetVmId(), cfg.GetRootId()))
		}
		var sv wrapperspb.StringValue
		if err := cfg.GetConfiguration().UnmarshalTo(&sv); err != nil {
			errs = append(errs, fmt.Errorf("%s: plugin configuration is not a google.protobuf.StringValue: %w", path, err))
			continue
		}
		if err := sameJSON([]byte(sv.GetValue()), pluginConfig); err != nil {
			errs = append(errs, fmt.Errorf("%s: inlined plugin configuration differs from its reference file (run `go test ./envoy -run Inlined -update`): %w",
				path, err))
		}
	}
	return errs
}

func sameJSON(got, want []byte) error {
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		return fmt.Errorf("reference not JSON: %w", err)
	}
	if !reflect.DeepEqual(g, w) {
		gj, _ := json.Marshal(g)
		wj, _ := json.Marshal(w)
		return fmt.Errorf("got %s, want %s", gj, wj)
	}
	return nil
}

func TestBootstraps(t *testing.T) {
	for _, name := range bootstrapFiles(t) {
		t.Run(name, func(t *testing.T) {
			pluginConfig := mustRead(t, pluginConfigFor(name))
			for _, err := range checkBootstrap(mustRead(t, name), pluginConfig) {
				t.Error(err)
			}
		})
	}
}

func clusterByName(t *testing.T, b *bootstrapv3.Bootstrap, name string) *clusterv3.Cluster {
	t.Helper()
	for _, c := range b.GetStaticResources().GetClusters() {
		if c.GetName() == name {
			return c
		}
	}
	t.Fatalf("cluster %q missing", name)
	return nil
}

func upstreamTLS(t *testing.T, c *clusterv3.Cluster) *tlsv3.UpstreamTlsContext {
	t.Helper()
	var tc tlsv3.UpstreamTlsContext
	if err := c.GetTransportSocket().GetTypedConfig().UnmarshalTo(&tc); err != nil {
		t.Fatalf("cluster %s: no upstream TLS: %v", c.GetName(), err)
	}
	if tc.GetCommonTlsContext().GetValidationContext().GetTrustedCa().GetFilename() == "" {
		t.Errorf("cluster %s: TLS without a trusted CA bundle", c.GetName())
	}
	return &tc
}

// requireAutoSNI: SNI and certificate name checks follow the callout's host.
func requireAutoSNI(t *testing.T, c *clusterv3.Cluster) {
	t.Helper()
	var po upstreamhttpv3.HttpProtocolOptions
	if err := c.GetTypedExtensionProtocolOptions()["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"].UnmarshalTo(&po); err != nil {
		t.Fatalf("cluster %s: HttpProtocolOptions: %v", c.GetName(), err)
	}
	uo := po.GetUpstreamHttpProtocolOptions()
	if !uo.GetAutoSni() || !uo.GetAutoSanValidation() {
		t.Errorf("cluster %s: auto_sni=%v auto_san_validation=%v, want both", c.GetName(), uo.GetAutoSni(), uo.GetAutoSanValidation())
	}
	upstreamTLS(t, c)
}

func TestClustersForCallouts(t *testing.T) {
	t.Run("envoy.yaml", func(t *testing.T) {
		b, err := parseBootstrap(mustRead(t, "envoy.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		demo := clusterByName(t, b, "demo_mcp")
		if demo.GetType() != clusterv3.Cluster_STRICT_DNS {
			t.Errorf("demo_mcp type %v, want STRICT_DNS", demo.GetType())
		}
		if clusterByName(t, b, "upstream_idp").GetType() != clusterv3.Cluster_STRICT_DNS {
			t.Error("upstream_idp: want STRICT_DNS")
		}
		if tc := upstreamTLS(t, clusterByName(t, b, "cimd_doh")); tc.GetSni() == "" {
			t.Error("cimd_doh: no SNI")
		}
		egress := clusterByName(t, b, "cimd_egress")
		if egress.GetType() != clusterv3.Cluster_ORIGINAL_DST || egress.GetLbPolicy() != clusterv3.Cluster_CLUSTER_PROVIDED {
			t.Errorf("cimd_egress: type %v lb %v, want ORIGINAL_DST / CLUSTER_PROVIDED", egress.GetType(), egress.GetLbPolicy())
		}
		od := egress.GetOriginalDstLbConfig()
		if !od.GetUseHttpHeader() || od.GetHttpHeaderName() != "x-envoy-original-dst-host" {
			t.Errorf("cimd_egress: original_dst_lb_config %v", od)
		}
		requireAutoSNI(t, egress)
		_, rcs := collect[*routev3.RouteConfiguration](b)
		for _, rc := range rcs {
			if !slices.Contains(rc.GetRequestHeadersToRemove(), "x-envoy-original-dst-host") {
				t.Errorf("route config %s does not strip x-envoy-original-dst-host from clients", rc.GetName())
			}
		}
	})
	t.Run("envoy-external.yaml", func(t *testing.T) {
		b, err := parseBootstrap(mustRead(t, "envoy-external.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		clusterByName(t, b, "demo_mcp")
		kc := clusterByName(t, b, "keycloak")
		tc := upstreamTLS(t, kc)
		sans := tc.GetCommonTlsContext().GetValidationContext().GetMatchTypedSubjectAltNames()
		if tc.GetSni() != "keycloak.example.com" || len(sans) != 1 || sans[0].GetMatcher().GetExact() != "keycloak.example.com" {
			t.Errorf("keycloak: SNI %q, SAN matchers %v: want the issuer's host for both", tc.GetSni(), sans)
		}
	})
	t.Run("envoy-dfp.yaml", func(t *testing.T) {
		b, err := parseBootstrap(mustRead(t, "envoy-dfp.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		clusterByName(t, b, "demo_mcp")
		clusterByName(t, b, "upstream_idp")
		dfp := clusterByName(t, b, "cimd_forward_proxy")
		if dfp.GetClusterType().GetName() != "envoy.clusters.dynamic_forward_proxy" {
			t.Errorf("cimd_forward_proxy: cluster type %q", dfp.GetClusterType().GetName())
		}
		var cc dfpclusterv3.ClusterConfig
		if err := dfp.GetClusterType().GetTypedConfig().UnmarshalTo(&cc); err != nil {
			t.Fatal(err)
		}
		if cc.GetDnsCacheConfig().GetMaxHosts().GetValue() == 0 {
			t.Error("cimd_forward_proxy: unbounded DNS cache")
		}
		requireAutoSNI(t, dfp)
	})
}

// --- the validator must be able to fail ------------------------------------

// jsonPath walks a JSON value decoded into any; elements are map keys
// (string) or list indexes (int).
func jsonPath(t *testing.T, v any, path ...any) any {
	t.Helper()
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				t.Fatalf("path %v: %T is not an object at %q", path, v, k)
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				t.Fatalf("path %v: no element %d", path, k)
			}
			v = l[k]
		}
	}
	return v
}

func TestValidatorCatchesErrors(t *testing.T) {
	pluginConfig := mustRead(t, pluginConfigFile)
	original := mustRead(t, "envoy.yaml")

	hcm := func(t *testing.T, root any) map[string]any {
		return jsonPath(t, root, "static_resources", "listeners", 0, "filter_chains", 0, "filters", 0, "typed_config").(map[string]any)
	}
	wasmConfig := func(t *testing.T, root any) map[string]any {
		return jsonPath(t, hcm(t, root), "http_filters", 0, "typed_config", "config").(map[string]any)
	}
	cluster0 := func(t *testing.T, root any) map[string]any {
		return jsonPath(t, root, "static_resources", "clusters", 0).(map[string]any)
	}

	cases := []struct {
		name   string
		mutate func(t *testing.T, root any)
		want   string // substring of one of the errors
	}{
		{"unknown field", func(t *testing.T, root any) {
			cluster0(t, root)["connect_timeout_typo"] = "1s"
		}, "unknown field"},
		{"unknown field inside an Any", func(t *testing.T, root any) {
			hcm(t, root)["normalise_path"] = true
		}, "unknown field"},
		{"bad enum", func(t *testing.T, root any) {
			cluster0(t, root)["lb_policy"] = "ROUND_ROBBIN"
		}, "invalid value for enum"},
		{"route to a missing cluster", func(t *testing.T, root any) {
			route := jsonPath(t, hcm(t, root), "route_config", "virtual_hosts", 0, "routes", 0, "route").(map[string]any)
			route["cluster"] = "no_such_cluster"
		}, `route to cluster "no_such_cluster"`},
		{"unregistered Any type", func(t *testing.T, root any) {
			f := jsonPath(t, hcm(t, root), "http_filters", 1, "typed_config").(map[string]any)
			f["@type"] = "type.googleapis.com/envoy.extensions.filters.http.no_such_filter.v3.NoSuchFilter"
		}, "unable to resolve"},
		{"rule broken inside an Any", func(t *testing.T, root any) {
			hcm(t, root)["stat_prefix"] = "" // min_len 1, invisible to Bootstrap.ValidateAll
		}, "StatPrefix"},
		{"rule broken two Anys deep", func(t *testing.T, root any) {
			vm := wasmConfig(t, root)["vm_config"].(map[string]any)
			vm["code"] = map[string]any{"local": map[string]any{"filename": ""}}
		}, "Filename"},
		{"deprecated field", func(t *testing.T, root any) {
			wasmConfig(t, root)["fail_open"] = true
		}, "deprecated field"},
		{"wasm runtime", func(t *testing.T, root any) {
			wasmConfig(t, root)["vm_config"].(map[string]any)["runtime"] = "envoy.wasm.runtime.wamr"
		}, "wasm runtime"},
		{"wasm file", func(t *testing.T, root any) {
			local := jsonPath(t, wasmConfig(t, root), "vm_config", "code", "local").(map[string]any)
			local["filename"] = "/etc/envoy/other.wasm"
		}, "wasm file"},
		{"plugin configuration drift", func(t *testing.T, root any) {
			c := wasmConfig(t, root)["configuration"].(map[string]any)
			c["value"] = strings.Replace(c["value"].(string), "localhost:8080", "localhost:9090", 1)
		}, "differs from"},
		{"plugin configuration names a missing cluster", func(t *testing.T, root any) {
			c := wasmConfig(t, root)["configuration"].(map[string]any)
			var cfg map[string]any
			if err := json.Unmarshal([]byte(c["value"].(string)), &cfg); err != nil {
				t.Fatal(err)
			}
			cfg["cimd"] = map[string]any{"egress_cluster": "no_such_egress"}
			js, _ := json.Marshal(cfg)
			c["value"] = string(js)
			// Keep the inlined copy equal to the reference, so that only the
			// cluster check can fail.
			pluginConfig = js
		}, `names cluster "no_such_egress"`},
		{"router not last", func(t *testing.T, root any) {
			h := hcm(t, root)
			fs := h["http_filters"].([]any)
			h["http_filters"] = []any{fs[1], fs[0]}
		}, "want the router"},
	}

	// The unmodified file passes: a case fails because of its mutation.
	if errs := checkBootstrap(original, pluginConfig); len(errs) != 0 {
		t.Fatalf("envoy.yaml does not pass: %v", errs)
	}
	reference := pluginConfig
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pluginConfig = reference
			js, err := yaml.YAMLToJSON(original)
			if err != nil {
				t.Fatal(err)
			}
			var root any
			if err := json.Unmarshal(js, &root); err != nil {
				t.Fatal(err)
			}
			tc.mutate(t, root)
			mutated, err := json.Marshal(root)
			if err != nil {
				t.Fatal(err)
			}
			errs := checkBootstrap(mutated, pluginConfig) // JSON is YAML
			if len(errs) == 0 {
				t.Fatalf("no error, want one containing %q", tc.want)
			}
			var all []string
			for _, e := range errs {
				all = append(all, e.Error())
			}
			if !strings.Contains(strings.Join(all, "\n"), tc.want) {
				t.Fatalf("errors do not mention %q:\n%s", tc.want, strings.Join(all, "\n"))
			}
		})
	}

	// A rule broken inside an Any is invisible to Bootstrap.ValidateAll alone:
	// that is why validateProtos unpacks every Any.
	t.Run("ValidateAll alone misses Any contents", func(t *testing.T) {
		bad := bytes.Replace(original, []byte("stat_prefix: mcp_ingress"), []byte(`stat_prefix: ""`), 1)
		b, err := parseBootstrap(bad)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.ValidateAll(); err != nil {
			t.Fatalf("Bootstrap.ValidateAll now descends into Any (%v): the walk may be redundant", err)
		}
		if len(validateProtos(b)) == 0 {
			t.Fatal("validateProtos missed the empty stat_prefix")
		}
	})
}
