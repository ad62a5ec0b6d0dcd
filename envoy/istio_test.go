package envoy

// Offline checks of the Istio manifests in istio/ against Istio's own
// definitions (istio.io/api): the CRDs' OpenAPI schemas (what the API
// server checks when a manifest is applied with strict field validation)
// and the API's protobuf types (what istiod reads), plus the ties between
// the WasmPlugin's configuration and the clusters the other manifests
// create.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	extensionsv1alpha1 "istio.io/api/extensions/v1alpha1"
	networkingv1alpha3 "istio.io/api/networking/v1alpha3"
	"sigs.k8s.io/yaml"
)

// istioAPIVersion is the istio.io/api release whose CRDs the manifests are
// held against (go.mod pins the same).
const istioAPIVersion = "v1.32.0"

// k8sObject is one manifest document.
type k8sObject struct {
	APIVersion string         `json:"apiVersion"`
	Kind       string         `json:"kind"`
	Metadata   map[string]any `json:"metadata"`
	Spec       map[string]any `json:"spec"`
	file       string
	raw        []byte // JSON
}

func (o k8sObject) name() string { s, _ := o.Metadata["name"].(string); return s }
func (o k8sObject) ns() string   { s, _ := o.Metadata["namespace"].(string); return s }

// splitYAML splits a multi-document YAML file into JSON documents, dropping
// empty ones (comments only).
func splitYAML(t *testing.T, name string) []k8sObject {
	t.Helper()
	var out []k8sObject
	for i, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(mustRead(t, name)), -1) {
		js, err := yaml.YAMLToJSON([]byte(doc))
		if err != nil {
			t.Fatalf("%s document %d: %v", name, i+1, err)
		}
		if string(js) == "null" {
			continue
		}
		var o k8sObject
		if err := json.Unmarshal(js, &o); err != nil {
			t.Fatalf("%s document %d: %v", name, i+1, err)
		}
		o.file, o.raw = fmt.Sprintf("%s#%d", name, i+1), js
		out = append(out, o)
	}
	return out
}

func istioManifests(t *testing.T) []k8sObject {
	t.Helper()
	names, err := filepath.Glob("istio/*.yaml")
	if err != nil || len(names) == 0 {
		t.Fatalf("no istio/*.yaml: %v", err)
	}
	var out []k8sObject
	for _, n := range names {
		out = append(out, splitYAML(t, n)...)
	}
	return out
}

// --- Istio's CRD schemas -----------------------------------------------------

var (
	crdOnce    sync.Once
	crdSchemas map[string]*jsonschema.Schema // "group/version Kind"
	crdErr     error
)

// istioCRDs compiles the OpenAPI v3 schema of every served version of every
// CRD in istio.io/api's kubernetes/customresourcedefinitions.gen.yaml.
func istioCRDs(t *testing.T) map[string]*jsonschema.Schema {
	t.Helper()
	crdOnce.Do(func() {
		out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "istio.io/api").Output()
		if err != nil {
			crdErr = fmt.Errorf("go list -m istio.io/api: %w", err)
			return
		}
		dir := strings.TrimSpace(string(out))
		if !strings.HasSuffix(dir, "@"+istioAPIVersion) {
			crdErr = fmt.Errorf("istio.io/api is at %s, want %s", dir, istioAPIVersion)
			return
		}
		crdSchemas, crdErr = compileCRDs(filepath.Join(dir, "kubernetes", "customresourcedefinitions.gen.yaml"))
	})
	if crdErr != nil {
		t.Fatal(crdErr)
	}
	return crdSchemas
}

func compileCRDs(path string) (map[string]*jsonschema.Schema, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := map[string]*jsonschema.Schema{}
	for _, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(data), -1) {
		var crd struct {
			Kind string `json:"kind"`
			Spec struct {
				Group string `json:"group"`
				Names struct {
					Kind string `json:"kind"`
				} `json:"names"`
				Versions []struct {
					Name   string `json:"name"`
					Served bool   `json:"served"`
					Schema struct {
						OpenAPIV3Schema map[string]any `json:"openAPIV3Schema"`
					} `json:"schema"`
				} `json:"versions"`
			} `json:"spec"`
		}
		if err := yaml.Unmarshal([]byte(doc), &crd); err != nil {
			return nil, err
		}
		if crd.Kind != "CustomResourceDefinition" {
			continue
		}
		for _, v := range crd.Spec.Versions {
			if !v.Served || v.Schema.OpenAPIV3Schema == nil {
				continue
			}
			key := crd.Spec.Group + "/" + v.Name + " " + crd.Spec.Names.Kind
			s := v.Schema.OpenAPIV3Schema
			strictObjects(s, true)
			c := jsonschema.NewCompiler()
			c.DefaultDraft(jsonschema.Draft4)
			url := "mem://" + strings.ReplaceAll(key, " ", "/")
			if err := c.AddResource(url, s); err != nil {
				return nil, fmt.Errorf("%s: %w", key, err)
			}
			sch, err := c.Compile(url)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", key, err)
			}
			out[key] = sch
		}
	}
	return out, nil
}

// strictObjects sets additionalProperties: false on every object schema
// with properties below the root, except where Kubernetes keeps unknown
// fields (x-kubernetes-preserve-unknown-fields). Kubernetes prunes unknown
// fields instead, and with strict field validation (kubectl's default)
// refuses them: a misspelt key is an error either way. The root is left
// open for apiVersion, kind and metadata, which the schema does not list.
func strictObjects(v any, root bool) {
	switch v := v.(type) {
	case map[string]any:
		if _, ok := v["properties"]; ok && !root {
			if keep, _ := v["x-kubernetes-preserve-unknown-fields"].(bool); !keep {
				if _, set := v["additionalProperties"]; !set {
					v["additionalProperties"] = false
				}
			}
		}
		for _, child := range v {
			strictObjects(child, false)
		}
	case []any:
		for _, child := range v {
			strictObjects(child, false)
		}
	}
}

// checkAgainstIstio holds one manifest against its CRD schema and, for the
// kinds used here, its istio.io/api type (protojson, unknown fields and bad
// enum names are errors).
func checkAgainstIstio(t *testing.T, o k8sObject) []error {
	t.Helper()
	var errs []error
	group, version, _ := strings.Cut(o.APIVersion, "/")
	sch, ok := istioCRDs(t)[group+"/"+version+" "+o.Kind]
	if !ok {
		return []error{fmt.Errorf("%s: %s %s is not a served Istio CRD version", o.file, o.APIVersion, o.Kind)}
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(o.raw))
	if err != nil {
		return []error{err}
	}
	if err := sch.Validate(inst); err != nil {
		errs = append(errs, fmt.Errorf("%s: CRD schema: %v", o.file, err))
	}
	if o.name() == "" || o.ns() == "" {
		errs = append(errs, fmt.Errorf("%s: metadata.name and metadata.namespace are required here", o.file))
	}
	var spec proto.Message
	switch o.Kind {
	case "WasmPlugin":
		spec = &extensionsv1alpha1.WasmPlugin{}
	case "ServiceEntry":
		spec = &networkingv1alpha3.ServiceEntry{}
	case "DestinationRule":
		spec = &networkingv1alpha3.DestinationRule{}
	case "EnvoyFilter":
		spec = &networkingv1alpha3.EnvoyFilter{}
	default:
		return append(errs, fmt.Errorf("%s: no API type check for kind %s", o.file, o.Kind))
	}
	js, _ := json.Marshal(o.Spec)
	if err := protojson.Unmarshal(js, spec); err != nil {
		errs = append(errs, fmt.Errorf("%s: istio.io/api %s: %v", o.file, o.Kind, err))
	}
	return errs
}

func TestIstioManifestsAgainstCRDs(t *testing.T) {
	objs := istioManifests(t)
	kinds := map[string]int{}
	for _, o := range objs {
		kinds[o.Kind]++
		for _, err := range checkAgainstIstio(t, o) {
			t.Error(err)
		}
	}
	for _, k := range []string{"WasmPlugin", "ServiceEntry", "DestinationRule", "EnvoyFilter"} {
		if kinds[k] == 0 {
			t.Errorf("no %s in istio/ (have %v)", k, kinds)
		}
	}
}

// TestIstioCheckCatchesErrors: the checks above fail on a misspelt field,
// a bad enum value, a malformed sha256 and an unknown kind.
func TestIstioCheckCatchesErrors(t *testing.T) {
	good := splitYAML(t, "istio/wasmplugin.yaml")[0]
	mutate := func(f func(spec map[string]any)) k8sObject {
		var o k8sObject
		if err := json.Unmarshal(good.raw, &o); err != nil {
			t.Fatal(err)
		}
		f(o.Spec)
		o.raw, _ = json.Marshal(map[string]any{"apiVersion": o.APIVersion, "kind": o.Kind, "metadata": o.Metadata, "spec": o.Spec})
		o.file = "mutated"
		return o
	}
	if errs := checkAgainstIstio(t, good); len(errs) != 0 {
		t.Fatalf("the manifest itself: %v", errs)
	}
	cases := map[string]k8sObject{
		"misspelt field": mutate(func(s map[string]any) { s["imagePulPolicy"] = "Always" }),
		"bad enum":       mutate(func(s map[string]any) { s["imagePullPolicy"] = "Sometimes" }),
		"short sha256":   mutate(func(s map[string]any) { s["sha256"] = "abc" }),
		"nested typo": mutate(func(s map[string]any) {
			s["selector"] = map[string]any{"matchLabel": map[string]any{"app": "x"}}
		}),
	}
	for name, o := range cases {
		if errs := checkAgainstIstio(t, o); len(errs) == 0 {
			t.Errorf("%s: not caught", name)
		}
	}
	unknown := good
	unknown.Kind = "WasmPlugins"
	if errs := checkAgainstIstio(t, unknown); len(errs) == 0 {
		t.Error("unknown kind: not caught")
	}
}

// --- ties between the WasmPlugin and the egress manifests --------------------

var outboundCluster = regexp.MustCompile(`^outbound\|(\d+)\|\|([a-z0-9.-]+)$`)

// TestIstioPluginClusters: every cluster the WasmPlugin's configuration
// calls exists for the proxies it selects: an "outbound|PORT||HOST" cluster
// through a ServiceEntry (same namespace) with that host and port and a
// DestinationRule that originates TLS to it (callouts are plain HTTP); any
// other name through an EnvoyFilter that adds a cluster of that name,
// itself valid for Envoy. The pinned egress cluster has the properties
// envoy/envoy.yaml documents.
func TestIstioPluginClusters(t *testing.T) {
	objs := istioManifests(t)
	var plugin k8sObject
	for _, o := range objs {
		if o.Kind == "WasmPlugin" {
			plugin = o
		}
	}
	pc, _ := plugin.Spec["pluginConfig"].(map[string]any)
	if pc == nil {
		t.Fatal("no WasmPlugin with a pluginConfig")
	}
	names := map[string]string{}
	if s, ok := lookup(pc, "authorization_server", "identity", "oidc", "cluster").(string); ok {
		names["oidc"] = s
	}
	for _, k := range []string{"doh_cluster", "egress_cluster"} {
		if s, ok := lookup(pc, "cimd", k).(string); ok {
			names["cimd."+k] = s
		}
	}
	if len(names) != 3 {
		t.Fatalf("clusters named by the plugin: %v, want oidc, DoH and egress", names)
	}
	if doh, ok := lookup(pc, "cimd", "doh_authority").(string); !ok || !strings.HasSuffix(names["cimd.doh_cluster"], "||"+doh) {
		t.Errorf("cimd.doh_authority %q is not the host of cimd.doh_cluster %q", doh, names["cimd.doh_cluster"])
	}

	for what, cluster := range names {
		if m := outboundCluster.FindStringSubmatch(cluster); m != nil {
			port, _ := strconv.Atoi(m[1])
			checkServiceEntryCluster(t, objs, plugin.ns(), what, m[2], port)
			continue
		}
		c := envoyFilterCluster(t, objs, plugin, cluster)
		if c == nil {
			t.Errorf("%s: cluster %q: no EnvoyFilter adds it for the plugin's workloads", what, cluster)
			continue
		}
		if what == "cimd.egress_cluster" {
			if c.GetType() != clusterv3.Cluster_ORIGINAL_DST || !c.GetOriginalDstLbConfig().GetUseHttpHeader() ||
				c.GetOriginalDstLbConfig().GetHttpHeaderName() != "x-envoy-original-dst-host" {
				t.Errorf("%s: want ORIGINAL_DST with use_http_header x-envoy-original-dst-host", cluster)
			}
			requireAutoSNI(t, c)
			if upstreamTLS(t, c).GetCommonTlsContext().GetValidationContext().GetTrustedCa().GetFilename() == "" {
				t.Errorf("%s: no trusted CA: certificates would not be checked", cluster)
			}
		}
	}
}

func checkServiceEntryCluster(t *testing.T, objs []k8sObject, ns, what, host string, port int) {
	t.Helper()
	var se, dr bool
	for _, o := range objs {
		if o.ns() != ns {
			continue
		}
		js, _ := json.Marshal(o.Spec)
		switch o.Kind {
		case "ServiceEntry":
			var s networkingv1alpha3.ServiceEntry
			if protojson.Unmarshal(js, &s) != nil || !slices.Contains(s.GetHosts(), host) {
				continue
			}
			for _, p := range s.GetPorts() {
				if int(p.GetNumber()) == port {
					se = true
				}
			}
		case "DestinationRule":
			var d networkingv1alpha3.DestinationRule
			if protojson.Unmarshal(js, &d) != nil || d.GetHost() != host {
				continue
			}
			tls := d.GetTrafficPolicy().GetTls()
			for _, pl := range d.GetTrafficPolicy().GetPortLevelSettings() {
				if int(pl.GetPort().GetNumber()) == port && pl.GetTls() != nil {
					tls = pl.GetTls()
				}
			}
			if tls.GetMode() == networkingv1alpha3.ClientTLSSettings_SIMPLE && tls.GetSni() == host {
				dr = true
			}
		}
	}
	if !se {
		t.Errorf("%s: no ServiceEntry in namespace %s for %s port %d", what, ns, host, port)
	}
	if !dr {
		t.Errorf("%s: no DestinationRule in namespace %s originating TLS (SIMPLE, sni %s) to %s", what, ns, host, host)
	}
}

// envoyFilterCluster returns the cluster called name that an EnvoyFilter
// in the plugin's namespace, selecting the plugin's workloads, ADDs for
// outbound sidecars; it is parsed and validated as an Envoy Cluster.
func envoyFilterCluster(t *testing.T, objs []k8sObject, plugin k8sObject, name string) *clusterv3.Cluster {
	t.Helper()
	want, _ := lookup(plugin.Spec, "selector", "matchLabels").(map[string]any)
	for _, o := range objs {
		if o.Kind != "EnvoyFilter" || o.ns() != plugin.ns() {
			continue
		}
		labels, _ := lookup(o.Spec, "workloadSelector", "labels").(map[string]any)
		if fmt.Sprint(labels) != fmt.Sprint(want) {
			continue
		}
		patches, _ := o.Spec["configPatches"].([]any)
		for _, p := range patches {
			pm, _ := p.(map[string]any)
			if pm["applyTo"] != "CLUSTER" || lookup(pm, "patch", "operation") != "ADD" {
				continue
			}
			js, _ := json.Marshal(lookup(pm, "patch", "value"))
			c := &clusterv3.Cluster{}
			if err := protojson.Unmarshal(js, c); err != nil {
				t.Errorf("%s: cluster patch: %v", o.file, err)
				continue
			}
			if c.GetName() != name {
				continue
			}
			if ctx := lookup(pm, "match", "context"); ctx != "SIDECAR_OUTBOUND" && ctx != "ANY" {
				t.Errorf("%s: cluster %s added for context %v, want SIDECAR_OUTBOUND", o.file, name, ctx)
			}
			b := &bootstrapv3.Bootstrap{StaticResources: &bootstrapv3.Bootstrap_StaticResources{Clusters: []*clusterv3.Cluster{c}}}
			for _, err := range validateProtos(b) {
				t.Errorf("%s: cluster %s: %v", o.file, name, err)
			}
			return c
		}
	}
	return nil
}

// lookup follows keys through nested objects; nil where one is missing.
func lookup(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// TestIstioWasmPluginPinned: the WasmPlugin pulls a tagged OCI image pinned
// by a sha256 (the image digest for oci://) and says when to pull.
func TestIstioWasmPluginPinned(t *testing.T) {
	p := splitYAML(t, "istio/wasmplugin.yaml")[0]
	url, _ := p.Spec["url"].(string)
	if !regexp.MustCompile(`^oci://[^/]+/.+:[A-Za-z0-9_.-]+$`).MatchString(url) {
		t.Errorf("url %q: want oci://registry/repository:tag", url)
	}
	if sum, _ := p.Spec["sha256"].(string); !regexp.MustCompile(`^[a-f0-9]{64}$`).MatchString(sum) {
		t.Errorf("sha256 %v: want 64 hex digits", p.Spec["sha256"])
	}
	if pol := p.Spec["imagePullPolicy"]; pol != "IfNotPresent" && pol != "Always" {
		t.Errorf("imagePullPolicy %v", pol)
	}
}
