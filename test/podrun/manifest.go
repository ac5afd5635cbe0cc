package podrun

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	kjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	kyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// ManifestError is a manifest podrun cannot run: unreadable, not strict YAML
// for a v1 Pod, or missing what a pod needs. The CLI exits 2 on it.
type ManifestError struct {
	// Source names the manifest: its file path, or "pod NAME" for a pod
	// handed to Run directly.
	Source string
	Err    error
}

func (e *ManifestError) Error() string { return e.Source + ": " + e.Err.Error() }
func (e *ManifestError) Unwrap() error { return e.Err }

// IsManifestError reports whether err (or anything it wraps) is a ManifestError.
func IsManifestError(err error) bool {
	var me *ManifestError
	return errors.As(err, &me)
}

// podDecoder decodes YAML or JSON strictly, as the API server does for a
// kubectl create with validation on: unknown and duplicate fields are errors
// that name the field (e.g. `unknown field "spec.containers[0].imagee"`).
var podDecoder = func() runtime.Decoder {
	scheme := runtime.NewScheme()
	if err := corev1.AddToScheme(scheme); err != nil {
		panic(fmt.Sprintf("registering core/v1: %v", err))
	}
	return kjson.NewSerializerWithOptions(kjson.DefaultMetaFactory, scheme, scheme,
		kjson.SerializerOptions{Yaml: true, Strict: true})
}()

// LoadManifest reads and strictly decodes a Pod manifest file. Every error is a
// *ManifestError naming the file.
func LoadManifest(path string) (*corev1.Pod, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &ManifestError{Source: path, Err: err}
	}
	return DecodeManifest(path, data)
}

// DecodeManifest is LoadManifest for bytes already in memory; source names them
// in errors.
func DecodeManifest(source string, data []byte) (*corev1.Pod, error) {
	fail := func(err error) (*corev1.Pod, error) { return nil, &ManifestError{Source: source, Err: err} }

	docs, err := splitYAMLDocuments(data)
	if err != nil {
		return fail(err)
	}
	switch len(docs) {
	case 0:
		return fail(errors.New("no object in manifest"))
	case 1:
	default:
		return fail(fmt.Errorf("%d objects in manifest, podrun runs exactly one Pod", len(docs)))
	}

	obj, gvk, err := podDecoder.Decode(docs[0], nil, nil)
	if err != nil {
		return fail(err)
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return fail(fmt.Errorf("kind %s (apiVersion %s): podrun runs only kind Pod (apiVersion v1)", gvk.Kind, gvk.GroupVersion()))
	}
	if errs := ValidatePod(pod); len(errs) > 0 {
		return fail(errs.ToAggregate())
	}
	return pod, nil
}

// splitYAMLDocuments returns the non-empty documents of a multi-document YAML
// stream.
func splitYAMLDocuments(data []byte) ([][]byte, error) {
	r := kyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var docs [][]byte
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("splitting YAML documents: %w", err)
		}
		if len(bytes.TrimSpace(stripYAMLComments(doc))) > 0 {
			docs = append(docs, doc)
		}
	}
}

// stripYAMLComments drops whole-line comments, so that a document holding only
// a header comment (as contrib/examples' files start with) is not an object.
func stripYAMLComments(doc []byte) []byte {
	var out []byte
	for _, line := range bytes.Split(doc, []byte("\n")) {
		if t := bytes.TrimSpace(line); len(t) > 0 && t[0] == '#' {
			continue
		}
		out = append(out, line...)
		out = append(out, '\n')
	}
	return out
}

// ValidatePod checks what podrun needs of a pod beyond well-formed fields,
// with the API server's field-path wording. Volumes are refused: podrun mounts
// nothing, and silently dropping a mount would change what a test measures.
func ValidatePod(pod *corev1.Pod) field.ErrorList {
	var errs field.ErrorList
	meta := field.NewPath("metadata")
	if pod.Name == "" && pod.GenerateName == "" {
		errs = append(errs, field.Required(meta.Child("name"), "name or generateName is required"))
	}
	if pod.Name != "" {
		for _, msg := range validation.IsDNS1123Subdomain(pod.Name) {
			errs = append(errs, field.Invalid(meta.Child("name"), pod.Name, msg))
		}
	}
	if pod.Namespace != "" {
		for _, msg := range validation.IsDNS1123Label(pod.Namespace) {
			errs = append(errs, field.Invalid(meta.Child("namespace"), pod.Namespace, msg))
		}
	}

	spec := field.NewPath("spec")
	if len(pod.Spec.Containers) == 0 {
		errs = append(errs, field.Required(spec.Child("containers"), ""))
	}
	seen := map[string]bool{}
	check := func(path *field.Path, c *corev1.Container) {
		switch {
		case c.Name == "":
			errs = append(errs, field.Required(path.Child("name"), ""))
		case seen[c.Name]:
			errs = append(errs, field.Duplicate(path.Child("name"), c.Name))
		default:
			for _, msg := range validation.IsDNS1123Label(c.Name) {
				errs = append(errs, field.Invalid(path.Child("name"), c.Name, msg))
			}
		}
		seen[c.Name] = true
		if c.Image == "" {
			errs = append(errs, field.Required(path.Child("image"), ""))
		}
		if len(c.VolumeMounts) > 0 {
			errs = append(errs, field.Forbidden(path.Child("volumeMounts"), "podrun mounts no volumes"))
		}
		if len(c.VolumeDevices) > 0 {
			errs = append(errs, field.Forbidden(path.Child("volumeDevices"), "podrun mounts no volumes"))
		}
		for i := range c.EnvFrom {
			errs = append(errs, field.Forbidden(path.Child("envFrom").Index(i), "podrun has no ConfigMaps or Secrets to read"))
		}
	}
	for i := range pod.Spec.InitContainers {
		check(spec.Child("initContainers").Index(i), &pod.Spec.InitContainers[i])
	}
	for i := range pod.Spec.Containers {
		check(spec.Child("containers").Index(i), &pod.Spec.Containers[i])
	}
	if len(pod.Spec.EphemeralContainers) > 0 {
		errs = append(errs, field.Forbidden(spec.Child("ephemeralContainers"), "cannot be set on pod creation"))
	}
	for i := range pod.Spec.Volumes {
		errs = append(errs, field.Forbidden(spec.Child("volumes").Index(i), "podrun mounts no volumes"))
	}
	return errs
}
