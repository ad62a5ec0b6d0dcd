package envoy

import (
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// TestReplicasCompose: docker-compose.replicas.yml runs a pinned official
// etcd image and two Envoy replicas on envoy-etcd.yaml, whose etcd cluster
// points at the etcd service's client port.
func TestReplicasCompose(t *testing.T) {
	var c composeFile
	if err := yaml.Unmarshal(mustRead(t, "../docker-compose.replicas.yml"), &c); err != nil {
		t.Fatal(err)
	}
	etcd, ok := c.Services["etcd"]
	if !ok {
		t.Fatal("no etcd service")
	}
	image := expandDefaults(etcd.Image)
	if !strings.HasPrefix(image, "gcr.io/etcd-development/etcd:v3.") && !strings.HasPrefix(image, "quay.io/coreos/etcd:v3.") {
		t.Errorf("etcd image %q: want the official image pinned to a v3 release tag", image)
	}
	if strings.Contains(image, "latest") {
		t.Errorf("etcd image %q is not pinned", image)
	}
	b, err := parseBootstrap(mustRead(t, "envoy-etcd.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	sa := clusterByName(t, b, "etcd").GetLoadAssignment().GetEndpoints()[0].GetLbEndpoints()[0].
		GetEndpoint().GetAddress().GetSocketAddress()
	if sa.GetAddress() != "etcd" || sa.GetPortValue() != 2379 ||
		!slices.Contains(etcd.Command, "--listen-client-urls=http://0.0.0.0:2379") {
		t.Errorf("envoy etcd cluster %s:%d does not reach the etcd service (%v)", sa.GetAddress(), sa.GetPortValue(), etcd.Command)
	}
	var replicas []string
	for name, s := range c.Services {
		m := mounts(t, s.Volumes)
		if m["/etc/envoy/envoy.yaml"] == "./envoy/envoy-etcd.yaml" && m[wasmFile] == "./build/mcpgate.wasm" {
			replicas = append(replicas, name)
		}
	}
	if len(replicas) < 2 {
		t.Errorf("Envoy replicas on envoy-etcd.yaml: %v, want two or more", replicas)
	}
}

// TestIstioEtcd: the Istio manifests give the etcd cluster the WasmPlugin
// names: a ServiceEntry on port 2379 and a DestinationRule with mTLS.
func TestIstioEtcd(t *testing.T) {
	docs := strings.Split(string(mustRead(t, "istio/etcd.yaml")), "\n---\n")
	kinds := map[string]map[string]any{}
	for _, d := range docs {
		var m map[string]any
		if err := yaml.UnmarshalStrict([]byte(d), &m); err != nil {
			t.Fatal(err)
		}
		kinds[m["kind"].(string)] = m["spec"].(map[string]any)
	}
	se, dr := kinds["ServiceEntry"], kinds["DestinationRule"]
	if se == nil || dr == nil {
		t.Fatalf("want a ServiceEntry and a DestinationRule, have %v", kinds)
	}
	host := se["hosts"].([]any)[0].(string)
	port := se["ports"].([]any)[0].(map[string]any)
	if dr["host"] != host || port["number"] != float64(2379) {
		t.Errorf("DestinationRule host %v, ServiceEntry %s port %v", dr["host"], host, port)
	}
	if mode := dr["trafficPolicy"].(map[string]any)["tls"].(map[string]any)["mode"]; mode != "MUTUAL" {
		t.Errorf("DestinationRule tls mode %v, want MUTUAL", mode)
	}
	var wp struct {
		Spec struct {
			PluginConfig struct {
				Store struct {
					Etcd struct {
						Cluster string `json:"cluster"`
					} `json:"etcd"`
				} `json:"store"`
			} `json:"pluginConfig"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(mustRead(t, "istio/wasmplugin.yaml"), &wp); err != nil {
		t.Fatal(err)
	}
	if want := "outbound|2379||" + host; wp.Spec.PluginConfig.Store.Etcd.Cluster != want {
		t.Errorf("WasmPlugin store.etcd.cluster %q, want %q", wp.Spec.PluginConfig.Store.Etcd.Cluster, want)
	}
}
