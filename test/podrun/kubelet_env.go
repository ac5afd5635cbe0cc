package podrun

import (
	"fmt"
	"os"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

type envVar struct{ name, value string }

// containerEnv emulates the part of the kubelet's makeEnvironmentVariables
// that needs no API server: literal values with $(VAR) references to earlier
// variables expanded, and the downward API's pod fields. ConfigMap and Secret
// references, resource fields and service links are refused or left out.
func containerEnv(pod *corev1.Pod, ctr *corev1.Container) ([]envVar, error) {
	var out []envVar
	defined := map[string]string{}
	for _, e := range ctr.Env {
		value := e.Value
		switch {
		case e.ValueFrom == nil:
			value = expandVars(value, func(name string) (string, bool) {
				v, ok := defined[name]
				return v, ok
			})
		case e.ValueFrom.FieldRef != nil:
			v, err := podFieldValue(pod, e.ValueFrom.FieldRef.FieldPath)
			if err != nil {
				return nil, fmt.Errorf("env %s: %w", e.Name, err)
			}
			value = v
		default:
			return nil, fmt.Errorf("env %s: podrun resolves only literal values and fieldRef (no ConfigMaps, Secrets or resource fields)", e.Name)
		}
		defined[e.Name] = value
		out = append(out, envVar{name: e.Name, value: value})
	}
	return out, nil
}

// podFieldValue emulates the kubelet's podFieldSelectorRuntimeValue and
// fieldpath.ExtractFieldPathAsString for the fields a bench pod can have.
func podFieldValue(pod *corev1.Pod, path string) (string, error) {
	switch path {
	case "metadata.name":
		return pod.Name, nil
	case "metadata.namespace":
		return pod.Namespace, nil
	case "metadata.uid":
		return string(pod.UID), nil
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName, nil
	case "spec.nodeName":
		if pod.Spec.NodeName != "" {
			return pod.Spec.NodeName, nil
		}
		return os.Hostname()
	case "status.podIP", "status.podIPs", "status.hostIP", "status.hostIPs":
		// The bench's CNI is loopback-only: pods have no IP.
		return "", nil
	}
	if key, ok := subscript(path, "metadata.labels"); ok {
		return pod.Labels[key], nil
	}
	if key, ok := subscript(path, "metadata.annotations"); ok {
		return pod.Annotations[key], nil
	}
	return "", fmt.Errorf("unsupported fieldRef fieldPath %q", path)
}

// subscript splits "prefix['key']" into key.
func subscript(path, prefix string) (string, bool) {
	rest, ok := strings.CutPrefix(path, prefix+"['")
	if !ok {
		return "", false
	}
	return strings.CutSuffix(rest, "']")
}

// expandCommandAndArgs emulates kubecontainer.ExpandContainerCommandAndArgs:
// $(VAR) in command and args refers to the container's environment.
func expandCommandAndArgs(ctr *corev1.Container, envs []envVar) (command, args []string) {
	env := map[string]string{}
	for _, e := range envs {
		env[e.name] = e.value
	}
	mapping := func(name string) (string, bool) {
		v, ok := env[name]
		return v, ok
	}
	for _, c := range ctr.Command {
		command = append(command, expandVars(c, mapping))
	}
	for _, a := range ctr.Args {
		args = append(args, expandVars(a, mapping))
	}
	return command, args
}

// expandVars implements Kubernetes' $(VAR) syntax (third_party/forked/golang/
// expansion Expand): $(NAME) is replaced when NAME is defined and kept as is
// otherwise, $$ is an escaped $, and any other $ stays.
func expandVars(in string, mapping func(string) (string, bool)) string {
	var b strings.Builder
	for i := 0; i < len(in); i++ {
		if in[i] != '$' || i+1 >= len(in) {
			b.WriteByte(in[i])
			continue
		}
		switch in[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(in[i+2:], ')')
			if end < 0 {
				b.WriteString(in[i:])
				return b.String()
			}
			name := in[i+2 : i+2+end]
			if v, ok := mapping(name); ok {
				b.WriteString(v)
			} else {
				b.WriteString(in[i : i+3+end])
			}
			i += 2 + end
		default:
			b.WriteByte('$')
		}
	}
	return b.String()
}
