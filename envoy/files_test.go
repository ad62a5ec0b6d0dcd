package envoy

// Checks that tie the Envoy configuration to the rest of the repository:
// the inlined plugin configuration, docker-compose.yml, the Istio manifest,
// and the development keys.

import (
	"bytes"
	"crypto/ecdh"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/mcpgate/mcpgate/authcore"
	"sigs.k8s.io/yaml"
)

var update = flag.Bool("update", false, "rewrite the plugin configuration inlined in envoy/*.yaml from its reference JSON file")

var (
	stringValueLine = regexp.MustCompile(`^\s*"@type":\s*type\.googleapis\.com/google\.protobuf\.StringValue\s*$`)
	valueBlockLine  = regexp.MustCompile(`^(\s*)value:\s*\|\s*$`)
)

// inlineConfig replaces the block scalar that follows the (single)
// google.protobuf.StringValue "@type" line of a bootstrap with config,
// indented to match. Comments and layout elsewhere are kept.
func inlineConfig(yamlText, config []byte) ([]byte, error) {
	lines := strings.SplitAfter(string(yamlText), "\n")
	at := -1
	for i, l := range lines {
		if stringValueLine.MatchString(l) {
			if at >= 0 {
				return nil, fmt.Errorf("more than one google.protobuf.StringValue (lines %d and %d)", at+1, i+1)
			}
			at = i
		}
	}
	if at < 0 || at+1 >= len(lines) {
		return nil, fmt.Errorf("no google.protobuf.StringValue configuration found")
	}
	m := valueBlockLine.FindStringSubmatch(lines[at+1])
	if m == nil {
		return nil, fmt.Errorf("line %d: want `value: |` after the StringValue @type", at+2)
	}
	indent := len(m[1])
	end := at + 2
	for end < len(lines) {
		l := lines[end]
		trimmed := strings.TrimLeft(l, " ")
		if strings.TrimSpace(l) != "" && len(l)-len(trimmed) <= indent {
			break
		}
		end++
	}
	// Keep blank lines that end the block outside it.
	for end > at+2 && strings.TrimSpace(lines[end-1]) == "" {
		end--
	}
	pad := strings.Repeat(" ", indent+2)
	var block strings.Builder
	for _, l := range strings.Split(strings.TrimRight(string(config), "\n"), "\n") {
		if l == "" {
			block.WriteString("\n")
			continue
		}
		block.WriteString(pad + l + "\n")
	}
	out := strings.Join(lines[:at+2], "") + block.String() + strings.Join(lines[end:], "")
	return []byte(out), nil
}

// TestPluginConfigInlined checks (and with -update, rewrites) the copy of
// mcpgate-config.json inlined in each bootstrap, text for text. The semantic
// comparison is part of TestBootstraps.
func TestPluginConfigInlined(t *testing.T) {
	for _, name := range bootstrapFiles(t) {
		config := mustRead(t, pluginConfigFor(name))
		text := mustRead(t, name)
		want, err := inlineConfig(text, config)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if bytes.Equal(text, want) {
			continue
		}
		if *update {
			if err := os.WriteFile(name, want, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: rewrote the inlined plugin configuration", name)
			continue
		}
		t.Errorf("%s: inlined plugin configuration is not a copy of %s; run `go test ./envoy -run Inlined -update`", name, pluginConfigFor(name))
	}
}

func TestInlineConfigIdempotent(t *testing.T) {
	in := []byte("a:\n  b:\n    \"@type\": type.googleapis.com/google.protobuf.StringValue\n    value: |\n      {\"old\": 1}\n\n  c: 1\n")
	out, err := inlineConfig(in, []byte("{\n  \"new\": 2\n}\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := "a:\n  b:\n    \"@type\": type.googleapis.com/google.protobuf.StringValue\n    value: |\n      {\n        \"new\": 2\n      }\n\n  c: 1\n"
	if string(out) != want {
		t.Fatalf("got\n%s\nwant\n%s", out, want)
	}
	again, err := inlineConfig(out, []byte("{\n  \"new\": 2\n}\n"))
	if err != nil || !bytes.Equal(again, out) {
		t.Fatalf("not idempotent: %v\n%s", err, again)
	}
}

// --- docker-compose.yml -----------------------------------------------------

var composeVar = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}`)

// expandDefaults replaces ${VAR:-default} with its default (the environment is
// ignored: the test checks what a plain `docker compose up` does).
func expandDefaults(s string) string {
	return composeVar.ReplaceAllString(s, "$2")
}

type composeFile struct {
	Services map[string]struct {
		Image   string   `json:"image"`
		Command []string `json:"command"`
		Volumes []any    `json:"volumes"`
		Ports   []string `json:"ports"`
	} `json:"services"`
}

func loadCompose(t *testing.T) composeFile {
	t.Helper()
	var c composeFile
	if err := yaml.Unmarshal(mustRead(t, "../docker-compose.yml"), &c); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	return c
}

// mounts returns the service's bind mounts as target -> source.
func mounts(t *testing.T, volumes []any) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, v := range volumes {
		switch v := v.(type) {
		case string: // short syntax: source:target[:mode]
			parts := strings.Split(expandDefaults(v), ":")
			if len(parts) < 2 {
				continue // anonymous volume
			}
			out[parts[1]] = parts[0]
		case map[string]any: // long syntax
			src, _ := v["source"].(string)
			dst, _ := v["target"].(string)
			out[expandDefaults(dst)] = expandDefaults(src)
		default:
			t.Fatalf("volume %#v", v)
		}
	}
	return out
}

func TestComposeMatchesBootstrap(t *testing.T) {
	c := loadCompose(t)
	envoySvc, ok := c.Services["envoy"]
	if !ok {
		t.Fatal("no envoy service")
	}
	m := mounts(t, envoySvc.Volumes)
	if got := m[wasmFile]; got != "./build/mcpgate.wasm" {
		t.Errorf("%s is mounted from %q, want ./build/mcpgate.wasm", wasmFile, got)
	}

	// The bootstrap Envoy is started with is one of ours, by default envoy.yaml.
	i := slices.Index(envoySvc.Command, "-c")
	if i < 0 || i+1 >= len(envoySvc.Command) {
		t.Fatalf("envoy command %v has no -c", envoySvc.Command)
	}
	src := m[envoySvc.Command[i+1]]
	if src != "./envoy/envoy.yaml" {
		t.Errorf("envoy runs %s mounted from %q, want ./envoy/envoy.yaml by default", envoySvc.Command[i+1], src)
	}
	if !slices.Contains(envoySvc.Ports, "127.0.0.1:8080:8080") {
		t.Errorf("envoy ports %v: want 127.0.0.1:8080:8080", envoySvc.Ports)
	}

	// Envoy 1.39 or newer: older proxy-wasm hosts kill Go modules at GC.
	image := expandDefaults(envoySvc.Image)
	mv := regexp.MustCompile(`:v?(\d+)\.(\d+)`).FindStringSubmatch(image)
	if mv == nil {
		t.Fatalf("envoy image %q: no version tag", image)
	}
	major, _ := strconv.Atoi(mv[1])
	minor, _ := strconv.Atoi(mv[2])
	if major < 1 || (major == 1 && minor < 39) {
		t.Errorf("envoy image %q: need Envoy >= 1.39 (proxy-wasm host fix, envoy PR 45756)", image)
	}

	// The demo server listens where the demo_mcp cluster points.
	b, err := parseBootstrap(mustRead(t, "envoy.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	sa := clusterByName(t, b, "demo_mcp").GetLoadAssignment().GetEndpoints()[0].GetLbEndpoints()[0].
		GetEndpoint().GetAddress().GetSocketAddress()
	demo, ok := c.Services[sa.GetAddress()]
	if !ok {
		t.Fatalf("demo_mcp points at %q, which is not a compose service", sa.GetAddress())
	}
	listen := fmt.Sprintf("0.0.0.0:%d", sa.GetPortValue())
	if j := slices.Index(demo.Command, "-listen"); j < 0 || j+1 >= len(demo.Command) || demo.Command[j+1] != listen {
		t.Errorf("%s command %v: want -listen %s", sa.GetAddress(), demo.Command, listen)
	}
}

// --- Istio ------------------------------------------------------------------

// wasmPluginSpecFields are the fields of Istio's WasmPlugin spec
// (extensions.istio.io/v1alpha1), to catch misspelt keys.
var wasmPluginSpecFields = []string{
	"selector", "targetRef", "targetRefs", "url", "sha256", "imagePullPolicy", "imagePullSecret",
	"verificationKey", "pluginConfig", "pluginName", "phase", "priority", "failStrategy", "vmConfig",
	"match", "type",
}

func TestIstioWasmPlugin(t *testing.T) {
	var doc struct {
		APIVersion string         `json:"apiVersion"`
		Kind       string         `json:"kind"`
		Metadata   map[string]any `json:"metadata"`
		Spec       map[string]any `json:"spec"`
	}
	if err := yaml.UnmarshalStrict(mustRead(t, "istio/wasmplugin.yaml"), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.APIVersion != "extensions.istio.io/v1alpha1" || doc.Kind != "WasmPlugin" {
		t.Errorf("apiVersion/kind = %s/%s", doc.APIVersion, doc.Kind)
	}
	if name, _ := doc.Metadata["name"].(string); name == "" {
		t.Error("metadata.name missing")
	}
	for k := range doc.Spec {
		if !slices.Contains(wasmPluginSpecFields, k) {
			t.Errorf("spec.%s is not a WasmPlugin field", k)
		}
	}
	url, _ := doc.Spec["url"].(string)
	switch {
	case strings.HasPrefix(url, "oci://"):
	case strings.HasPrefix(url, "https://"), strings.HasPrefix(url, "http://"):
		if doc.Spec["sha256"] == nil {
			t.Error("an HTTP(S) module url needs sha256")
		}
	default:
		t.Errorf("spec.url %q: want oci:// or http(s)://", url)
	}
	want := map[string]string{"phase": "AUTHN", "pluginName": "mcpgate", "failStrategy": "FAIL_CLOSE", "type": "HTTP"}
	for k, v := range want {
		if doc.Spec[k] != v {
			t.Errorf("spec.%s = %v, want %s", k, doc.Spec[k], v)
		}
	}
	if doc.Spec["selector"] == nil && doc.Spec["targetRef"] == nil && doc.Spec["targetRefs"] == nil {
		t.Error("no selector or targetRefs: the plugin would apply to every workload of the namespace")
	}

	// pluginConfig follows the schema of mcpgate-config-etcd.json (the
	// Envoy configuration plus its store section: a mesh runs several
	// proxies): same keys at the top, in each resource and in each key entry.
	pc, ok := doc.Spec["pluginConfig"].(map[string]any)
	if !ok {
		t.Fatalf("spec.pluginConfig is %T, want an object", doc.Spec["pluginConfig"])
	}
	var ref map[string]any
	if err := json.Unmarshal(mustRead(t, "mcpgate-config-etcd.json"), &ref); err != nil {
		t.Fatal(err)
	}
	sameKeys(t, "pluginConfig", pc, ref)
	for _, list := range []string{"resources", "keys"} {
		got, _ := pc[list].([]any)
		refList, _ := ref[list].([]any)
		if len(got) == 0 || len(refList) == 0 {
			t.Errorf("pluginConfig.%s: empty", list)
			continue
		}
		for i, e := range got {
			em, _ := e.(map[string]any)
			sameKeys(t, fmt.Sprintf("pluginConfig.%s[%d]", list, i), em, refList[0].(map[string]any))
		}
	}
	checkKeys(t, "istio/wasmplugin.yaml", pc)
}

func sameKeys(t *testing.T, where string, got, want map[string]any) {
	t.Helper()
	g := slices.Sorted(maps.Keys(got))
	w := slices.Sorted(maps.Keys(want))
	if !slices.Equal(g, w) {
		t.Errorf("%s has keys %v, %s has %v", where, g, pluginConfigFile, w)
	}
}

// --- development keys -------------------------------------------------------

// checkKeys verifies every "keys" entry of a plugin configuration: an ES256
// key is a P-256 private JWK whose x and y match d.
func checkKeys(t *testing.T, where string, config map[string]any) {
	t.Helper()
	keys, _ := config["keys"].([]any)
	if len(keys) == 0 {
		t.Errorf("%s: no keys", where)
	}
	b64 := func(m map[string]any, k string) []byte {
		s, _ := m[k].(string)
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil || len(b) != 32 {
			t.Errorf("%s: jwk.%s is not 32 bytes of base64url", where, k)
		}
		return b
	}
	for _, k := range keys {
		entry, _ := k.(map[string]any)
		if entry["kid"] == "" || entry["alg"] != "ES256" {
			t.Errorf("%s: key entry %v: want a kid and alg ES256", where, entry["kid"])
			continue
		}
		jwk, _ := entry["jwk"].(map[string]any)
		if jwk["kty"] != "EC" || jwk["crv"] != "P-256" {
			t.Errorf("%s: %v: want kty EC, crv P-256", where, entry["kid"])
			continue
		}
		priv, err := ecdh.P256().NewPrivateKey(b64(jwk, "d"))
		if err != nil {
			t.Errorf("%s: %v: bad d: %v", where, entry["kid"], err)
			continue
		}
		pub := append([]byte{4}, append(b64(jwk, "x"), b64(jwk, "y")...)...)
		if !bytes.Equal(priv.PublicKey().Bytes(), pub) {
			t.Errorf("%s: %v: x, y do not belong to d", where, entry["kid"])
		}
	}
}

func TestDevKeys(t *testing.T) {
	var config map[string]any
	if err := json.Unmarshal(mustRead(t, pluginConfigFile), &config); err != nil {
		t.Fatal(err)
	}
	checkKeys(t, pluginConfigFile, config)
}

// TestIstioExternalIssuer: the Istio manifests for a trusted issuer: the
// ServiceEntry declares the issuer's host, the DestinationRule originates
// TLS to it with SNI and name check, and the WasmPlugin's configuration
// parses and names Istio's outbound cluster for exactly that host and port.
func TestIstioExternalIssuer(t *testing.T) {
	type port struct {
		Number     int    `json:"number"`
		Name       string `json:"name"`
		Protocol   string `json:"protocol"`
		TargetPort int    `json:"targetPort"`
	}
	type tlsSettings struct {
		Mode            string   `json:"mode"`
		SNI             string   `json:"sni"`
		SubjectAltNames []string `json:"subjectAltNames"`
	}
	var (
		se struct {
			APIVersion, Kind string
			Metadata         map[string]any `json:"metadata"`
			Spec             struct {
				Hosts      []string `json:"hosts"`
				Location   string   `json:"location"`
				Resolution string   `json:"resolution"`
				Ports      []port   `json:"ports"`
			} `json:"spec"`
		}
		dr struct {
			APIVersion, Kind string
			Metadata         map[string]any `json:"metadata"`
			Spec             struct {
				Host          string `json:"host"`
				TrafficPolicy struct {
					PortLevelSettings []struct {
						Port struct {
							Number int `json:"number"`
						} `json:"port"`
						TLS tlsSettings `json:"tls"`
					} `json:"portLevelSettings"`
				} `json:"trafficPolicy"`
			} `json:"spec"`
		}
		wp struct {
			APIVersion, Kind string
			Metadata         map[string]any `json:"metadata"`
			Spec             map[string]any `json:"spec"`
		}
	)
	docs := strings.Split(string(mustRead(t, "istio/external-issuer.yaml")), "\n---\n")
	if len(docs) != 3 {
		t.Fatalf("%d documents, want ServiceEntry, DestinationRule, WasmPlugin", len(docs))
	}
	for i, v := range []any{&se, &dr, &wp} {
		if err := yaml.UnmarshalStrict([]byte(docs[i]), v); err != nil {
			t.Fatalf("document %d: %v", i, err)
		}
	}
	if se.Kind != "ServiceEntry" || dr.Kind != "DestinationRule" || wp.Kind != "WasmPlugin" || wp.APIVersion != "extensions.istio.io/v1alpha1" {
		t.Fatalf("kinds %s %s %s", se.Kind, dr.Kind, wp.Kind)
	}
	for k := range wp.Spec {
		if !slices.Contains(wasmPluginSpecFields, k) {
			t.Errorf("spec.%s is not a WasmPlugin field", k)
		}
	}
	if len(se.Spec.Hosts) != 1 || se.Spec.Location != "MESH_EXTERNAL" || len(se.Spec.Ports) != 1 {
		t.Fatalf("ServiceEntry %+v", se.Spec)
	}
	host, p := se.Spec.Hosts[0], se.Spec.Ports[0].Number
	if dr.Spec.Host != host || len(dr.Spec.TrafficPolicy.PortLevelSettings) != 1 {
		t.Fatalf("DestinationRule %+v for %s", dr.Spec, host)
	}
	pl := dr.Spec.TrafficPolicy.PortLevelSettings[0]
	if pl.Port.Number != p || pl.TLS.Mode != "SIMPLE" || pl.TLS.SNI != host || !slices.Equal(pl.TLS.SubjectAltNames, []string{host}) {
		t.Errorf("DestinationRule TLS %+v on port %d, want SIMPLE with SNI and SAN %s on %d", pl.TLS, pl.Port.Number, host, p)
	}
	pc, err := json.Marshal(wp.Spec["pluginConfig"])
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := authcore.ParseConfig(pc)
	if err != nil {
		t.Fatalf("pluginConfig: %v", err)
	}
	want := fmt.Sprintf("outbound|%d||%s", p, host)
	if len(cfg.TrustedIssuers) != 1 || cfg.TrustedIssuers[0].Cluster != want {
		t.Errorf("trusted issuer cluster %q, want %q", cfg.TrustedIssuers[0].Cluster, want)
	}
	if !strings.HasPrefix(cfg.TrustedIssuers[0].Issuer, "https://"+host+"/") {
		t.Errorf("issuer %s is not on %s", cfg.TrustedIssuers[0].Issuer, host)
	}
}
