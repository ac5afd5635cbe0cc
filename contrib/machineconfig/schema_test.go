package machineconfig_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"
)

// The MachineOSConfig CRD as openshift/api ships it (the module this
// project requires): the tests check generated objects against its
// openAPIV3Schema, the same schema the API server enforces.
const crdFile = "machineconfiguration/v1/zz_generated.crd-manifests/0000_80_machine-config_01_machineosconfigs.crd.yaml"

type schema struct {
	Type                 string             `json:"type"`
	Properties           map[string]*schema `json:"properties"`
	Items                *schema            `json:"items"`
	Required             []string           `json:"required"`
	Enum                 []any              `json:"enum"`
	MaxLength            *int               `json:"maxLength"`
	MinLength            *int               `json:"minLength"`
	MaxItems             *int               `json:"maxItems"`
	MinItems             *int               `json:"minItems"`
	PreserveUnknown      bool               `json:"x-kubernetes-preserve-unknown-fields"`
	KubernetesValidation []struct {
		Rule    string `json:"rule"`
		Message string `json:"message"`
	} `json:"x-kubernetes-validations"`
}

func loadMOSCSchema(t *testing.T) *schema {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/openshift/api").Output()
	if err != nil {
		t.Fatalf("locating github.com/openshift/api: %v", err)
	}
	data, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), crdFile))
	if err != nil {
		t.Fatal(err)
	}
	var crd struct {
		Spec struct {
			Names struct {
				Kind string `json:"kind"`
			} `json:"names"`
			Versions []struct {
				Name   string `json:"name"`
				Schema struct {
					OpenAPIV3Schema *schema `json:"openAPIV3Schema"`
				} `json:"schema"`
			} `json:"versions"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(data, &crd); err != nil {
		t.Fatal(err)
	}
	for _, v := range crd.Spec.Versions {
		if v.Name == "v1" && crd.Spec.Names.Kind == "MachineOSConfig" {
			return v.Schema.OpenAPIV3Schema
		}
	}
	t.Fatalf("%s has no MachineOSConfig v1", crdFile)
	return nil
}

// matchesRule is a CEL rule of the form self.matches('RE') || self.matches('RE').
var matchesRule = regexp.MustCompile(`self\.matches\('((?:[^'\\]|\\.)*)'\)`)

// validate returns every violation of s by v, naming its path. The CEL
// rules it evaluates are the ones the MachineOSConfig's fields use on
// creation; rules about updates (oldSelf) hold for a new object.
func (s *schema) validate(p string, v any) []string {
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, p+": "+fmt.Sprintf(format, args...)) }
	switch s.Type {
	case "object":
		m, ok := v.(map[string]any)
		if !ok {
			bad("want an object, got %T", v)
			return errs
		}
		for _, r := range s.Required {
			if _, ok := m[r]; !ok {
				bad("required field %s missing", r)
			}
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			sub, ok := s.Properties[k]
			switch {
			case ok:
				errs = append(errs, sub.validate(p+"."+k, m[k])...)
			case !s.PreserveUnknown && s.Properties != nil:
				bad("unknown field %s", k)
			}
		}
	case "array":
		a, ok := v.([]any)
		if !ok {
			bad("want an array, got %T", v)
			return errs
		}
		if s.MaxItems != nil && len(a) > *s.MaxItems || s.MinItems != nil && len(a) < *s.MinItems {
			bad("%d items", len(a))
		}
		for i, x := range a {
			errs = append(errs, s.Items.validate(fmt.Sprintf("%s[%d]", p, i), x)...)
		}
	case "string":
		str, ok := v.(string)
		if !ok {
			bad("want a string, got %T", v)
			return errs
		}
		n := utf8.RuneCountInString(str)
		if s.MaxLength != nil && n > *s.MaxLength || s.MinLength != nil && n < *s.MinLength {
			bad("length %d outside [%v, %v]", n, s.MinLength, s.MaxLength)
		}
		for _, rule := range s.KubernetesValidation {
			switch {
			case strings.Contains(rule.Rule, "format.dns1123Subdomain()"):
				if e := validation.IsDNS1123Subdomain(str); len(e) > 0 {
					bad("%s", rule.Message)
				}
			case strings.HasPrefix(rule.Rule, "self.matches("):
				ok := false
				for _, m := range matchesRule.FindAllStringSubmatch(rule.Rule, -1) {
					re := strings.ReplaceAll(m[1], `\\`, `\`)
					if regexp.MustCompile(re).MatchString(str) {
						ok = true
					}
				}
				if !ok {
					bad("%q: %s", str, rule.Message)
				}
			}
		}
	case "integer", "boolean":
	}
	if len(s.Enum) > 0 {
		found := false
		for _, e := range s.Enum {
			if e == v {
				found = true
			}
		}
		if !found {
			bad("%v is none of %v", v, s.Enum)
		}
	}
	return errs
}

// validateMOSC checks a MachineOSConfig against the schema and the
// object-level rule that its name is its pool's.
func validateMOSC(t *testing.T, s *schema, data []byte) []string {
	t.Helper()
	var v map[string]any
	if err := yaml.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	errs := s.validate("", v)
	name, _ := v["metadata"].(map[string]any)["name"].(string)
	spec, _ := v["spec"].(map[string]any)
	pool, _ := spec["machineConfigPool"].(map[string]any)
	if pool == nil || pool["name"] != name {
		errs = append(errs, fmt.Sprintf("metadata.name %q is not spec.machineConfigPool.name %v", name, pool["name"]))
	}
	return errs
}

// TestSchemaValidatorCatchesViolations: the checker above is not vacuous.
func TestSchemaValidatorCatchesViolations(t *testing.T) {
	s := loadMOSCSchema(t)
	good := `apiVersion: machineconfiguration.openshift.io/v1
kind: MachineOSConfig
metadata: {name: worker}
spec:
  machineConfigPool: {name: worker}
  imageBuilder: {imageBuilderType: Job}
  renderedImagePushSecret: {name: push}
  renderedImagePushSpec: image-registry.openshift-image-registry.svc:5000/openshift-machine-config-operator/os-image:latest
  containerFile: [{containerfileArch: NoArch, content: "FROM configs AS final"}]
`
	if errs := validateMOSC(t, s, []byte(good)); len(errs) > 0 {
		t.Fatalf("a valid object: %q", errs)
	}
	for _, tc := range []struct{ from, to, want string }{
		{"imageBuilderType: Job", "imageBuilderType: Pod", "none of"},
		{"  renderedImagePushSecret: {name: push}\n", "", "required field renderedImagePushSecret"},
		{"os-image:latest", "os-image", "OCI Image name"},
		{"containerfileArch: NoArch", "containerfileArch: amd64", "none of"},
		{"name: push", "name: Push_", "RFC 1123"},
		{"content: \"FROM configs AS final\"", "content: \"" + strings.Repeat("x", 4097) + "\"", "length 4097"},
		{"kind: MachineOSConfig", "kind: MachineOSConfig\nstatus: {bogus: 1}", "unknown field bogus"},
		{"metadata: {name: worker}", "metadata: {name: infra}", "is not spec.machineConfigPool.name"},
	} {
		errs := validateMOSC(t, s, []byte(strings.Replace(good, tc.from, tc.to, 1)))
		if !strings.Contains(strings.Join(errs, "\n"), tc.want) {
			t.Errorf("%q → %q: errors %q, want one with %q", tc.from, tc.to, errs, tc.want)
		}
	}
}
