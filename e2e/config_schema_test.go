package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcpgate/mcpgate/authcore"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"sigs.k8s.io/yaml"
)

func loadSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open("../docs/config.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("config.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("config.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestConfigExamplesMatchSchema holds every configuration shipped in the
// repository against docs/config.schema.json and the filter's own parser.
func TestConfigExamplesMatchSchema(t *testing.T) {
	schema := loadSchema(t)
	var files []string
	for _, pattern := range []string{"../authcore/testdata/config/*.json", "testdata/*.json", "../envoy/*.json"} {
		m, _ := filepath.Glob(pattern)
		files = append(files, m...)
	}
	if len(files) < 8 {
		t.Fatalf("only %d example configs found: %v", len(files), files)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			b = bytes.ReplaceAll(b, []byte("{{BASE}}"), []byte("http://127.0.0.1:8080"))
			b = bytes.ReplaceAll(b, []byte("{{OP_ISSUER}}"), []byte("http://127.0.0.1:9090"))
			doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			if err := schema.Validate(doc); err != nil {
				t.Errorf("schema: %v", err)
			}
			if _, err := authcore.ParseConfig(b); err != nil {
				t.Errorf("parser: %v", err)
			}
		})
	}
}

// TestIstioPluginConfig holds the Istio WasmPlugin's pluginConfig (YAML,
// handed to the filter as JSON) against the schema and the parser.
func TestIstioPluginConfig(t *testing.T) {
	b, err := os.ReadFile("../envoy/istio/wasmplugin.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Spec struct {
			PluginConfig map[string]any `json:"pluginConfig"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	j, _ := json.Marshal(doc.Spec.PluginConfig)
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
	if err != nil {
		t.Fatal(err)
	}
	if err := loadSchema(t).Validate(v); err != nil {
		t.Errorf("schema: %v", err)
	}
	if _, err := authcore.ParseConfig(j); err != nil {
		t.Errorf("parser: %v", err)
	}
}

// TestSchemaRejects shows the schema is not vacuous: documents the filter
// refuses are refused by the schema too.
func TestSchemaRejects(t *testing.T) {
	schema := loadSchema(t)
	base := `{"issuer":"https://a.example","resources":[{"resource":"https://a.example/mcp"}],"keys":[{"kid":"k","jwk":{"kty":"OKP","crv":"Ed25519","x":"wuJ9G9USydJB5XUvTNRgU2p-ioqIeMavF2ZykbVI5_U","d":"_XXJOkaK6mEwodbkVVVBFdYoleUrM0Tg5vkvJQN-bo8"}}]`
	for name, doc := range map[string]string{
		"unknown key":       base + `,"isuser":"x"}`,
		"issuer slash":      strings.Replace(base, `"https://a.example"`, `"https://a.example/"`, 1) + `}`,
		"bad scope":         strings.Replace(base, `"https://a.example/mcp"}`, `"https://a.example/mcp","scopes":["a b"]}`, 1) + `}`,
		"bad duration":      base + `,"lifetimes":{"access_token":"ten"}}`,
		"bad identity mode": base + `,"authorization_server":{"identity":{"mode":"magic"}}}`,
		"missing resources": `{"issuer":"https://a.example","keys":[]}`,
		"cimd unknown":      base + `,"cimd":{"enable":true}}`,
		"both jwk and pem":  strings.Replace(base, `"kid":"k",`, `"kid":"k","pem":"x",`, 1) + `}`,
	} {
		v, err := jsonschema.UnmarshalJSON(strings.NewReader(doc))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if schema.Validate(v) == nil {
			t.Errorf("%s: schema accepted %s", name, doc)
		}
		if _, err := authcore.ParseConfig([]byte(doc)); err == nil {
			t.Errorf("%s: parser accepted %s", name, doc)
		}
	}
}

// TestConfigDocExamples: every complete JSON example in docs/config.md (a
// fenced json block holding an object with "resources") passes the schema
// and the parser, so the vendor examples of trusted_issuers stay valid.
func TestConfigDocExamples(t *testing.T) {
	schema := loadSchema(t)
	doc, err := os.ReadFile("../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, block := range strings.Split(string(doc), "```json\n")[1:] {
		body, _, _ := strings.Cut(block, "```")
		if !strings.Contains(body, `"resources"`) {
			continue
		}
		n++
		v, err := jsonschema.UnmarshalJSON(strings.NewReader(body))
		if err != nil {
			t.Errorf("example %d: %v\n%s", n, err, body)
			continue
		}
		if err := schema.Validate(v); err != nil {
			t.Errorf("example %d: schema: %v", n, err)
		}
		if _, err := authcore.ParseConfig([]byte(body)); err != nil {
			t.Errorf("example %d: parser: %v", n, err)
		}
	}
	if n < 4 {
		t.Errorf("only %d complete examples in docs/config.md", n)
	}
}
