package machineconfig

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"

	"sigs.k8s.io/yaml"
)

// ImageOptions are image mode's own inputs.
type ImageOptions struct {
	// OffCluster writes only the Containerfile for a build outside the
	// cluster, FROM BaseImage, with the RPMs in the build context; its image
	// goes into a MachineConfig's osImageURL by digest.
	OffCluster bool
	BaseImage  string // the pool's node image, by digest (off-cluster)
	// RPMImage is an image, by digest, whose root holds the RPMs
	// (Containerfile.rpms builds it): the on-cluster build has no build
	// context of its own, so the RPMs come from an image stage.
	RPMImage string
	// PushSpec, PushSecret, PullSecret: the MachineOSConfig's
	// renderedImagePushSpec, renderedImagePushSecret and baseImagePullSecret.
	PushSpec, PushSecret, PullSecret string
}

// DefaultPushSpec is the cluster's own registry, as the on-cluster layering
// guide uses it (an ImageStream os-image in the MCO's namespace).
const DefaultPushSpec = "image-registry.openshift-image-registry.svc:5000/openshift-machine-config-operator/os-image:latest"

// MaxContainerfile is the MachineOSConfig's limit on containerFile content.
const MaxContainerfile = 4096

func (io ImageOptions) withDefaults() ImageOptions {
	if !io.OffCluster && io.PushSpec == "" {
		io.PushSpec = DefaultPushSpec
	}
	return io
}

func (io ImageOptions) args() []string {
	var args []string
	if io.OffCluster {
		args = append(args, "--off-cluster")
	}
	for _, f := range []struct{ flag, value string }{
		{"--base-image", io.BaseImage}, {"--rpm-image", io.RPMImage},
		{"--push-secret", io.PushSecret}, {"--base-image-pull-secret", io.PullSecret},
	} {
		if f.value != "" {
			args = append(args, f.flag, f.value)
		}
	}
	if !io.OffCluster && io.PushSpec != DefaultPushSpec {
		args = append(args, "--push-spec", io.PushSpec)
	}
	return args
}

// byDigest matches an image reference pinned by digest.
var byDigest = regexp.MustCompile(`^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]+)?(/[a-zA-Z0-9._-]+)+@sha256:[a-f0-9]{64}$`)

// pushSpecFormat is the MachineOSConfig's rule for renderedImagePushSpec.
var pushSpecFormat = regexp.MustCompile(`^([a-zA-Z0-9-]+\.)+[a-zA-Z0-9-]+(:[0-9]{2,5})?(/[a-zA-Z0-9-_]{1,61})*/[a-zA-Z0-9-_.]+:[a-zA-Z0-9._-]+$|^[^.]+\.[^.]+\.svc:\d+/[^/]+/[^/]+:[^/]+$`)

func (io ImageOptions) validate() error {
	if io.OffCluster {
		if !byDigest.MatchString(io.BaseImage) {
			return fmt.Errorf("--base-image %q: want the pool's node image by digest (oc adm release info --image-for rhel-coreos), REPO@sha256:HEX", io.BaseImage)
		}
		if io.RPMImage != "" || io.PushSecret != "" || io.PullSecret != "" {
			return fmt.Errorf("--off-cluster takes the RPMs from the build context: --rpm-image, --push-secret and --base-image-pull-secret are for the on-cluster build")
		}
		return nil
	}
	switch {
	case io.BaseImage != "":
		return fmt.Errorf("--base-image is for --off-cluster: the on-cluster build starts FROM the pool's own image (configs)")
	case !byDigest.MatchString(io.RPMImage):
		return fmt.Errorf("--rpm-image %q: want the image holding the RPMs (Containerfile.rpms), by digest, REPO@sha256:HEX", io.RPMImage)
	case io.PushSecret == "":
		return fmt.Errorf("--push-secret: the secret the build pushes the pool's image with (renderedImagePushSecret), in openshift-machine-config-operator")
	case len(io.PushSpec) > 447 || !pushSpecFormat.MatchString(io.PushSpec):
		return fmt.Errorf("--push-spec %q: want HOST[:PORT]/PATH/NAME:TAG (renderedImagePushSpec)", io.PushSpec)
	}
	return nil
}

// rpmFile is one RPM the Containerfile installs.
type rpmFile struct {
	name, file, sum, how string
}

func (in inputs) rpmFiles() []rpmFile {
	var r []rpmFile
	if in.o.CRIORPM != "" {
		r = append(r, rpmFile{"cri-o", in.o.CRIORPM, in.o.CRIOSHA256, "override replace"})
	}
	if in.o.HookRPM != "" {
		r = append(r, rpmFile{"crio-userns-hook", in.o.HookRPM, in.o.HookSHA256, "install"})
	}
	return r
}

// containerfile renders the Containerfile: off-cluster FROM the base image
// with the RPMs from the build context, on-cluster FROM configs (the pool's
// image with its MachineConfigs, which must be the last stage) with the RPMs
// from the RPM image.
func (in inputs) containerfile() string {
	io := in.o.Image
	var b strings.Builder
	b.WriteString(in.header("#"))
	from := "--from=crio-userns-rpms /"
	if io.OffCluster {
		fmt.Fprintf(&b, "FROM %s\n", io.BaseImage)
		from = ""
	} else {
		fmt.Fprintf(&b, "FROM %s AS crio-userns-rpms\n\nFROM configs AS final\n", io.RPMImage)
	}
	rpms := in.rpmFiles()
	for _, r := range rpms {
		fmt.Fprintf(&b, "COPY %s%s /tmp/crio-userns/\n", from, r.file)
	}
	// Every step fails the build with a message that says why.
	step := []string{"set -eu", "cd /tmp/crio-userns"}
	for _, r := range rpms {
		step = append(step, fmt.Sprintf("echo '%s  %s' | sha256sum -c -", r.sum, r.file))
	}
	if in.o.CRIORPM != "" {
		step = append(step,
			fmt.Sprintf("line=$(rpm -qp --qf '%%{VERSION}' %s); line=${line%%.*}", in.o.CRIORPM),
			"base=$(rpm -q --qf '%{VERSION}' cri-o)",
			`if [ "${base%.*}" != "$line" ]; then echo "crio-userns: the node image runs CRI-O $base, the RPM is built for CRI-O $line: build the series of the image's line" >&2; exit 1; fi`)
	}
	for _, r := range rpms {
		step = append(step,
			fmt.Sprintf("rpm-ostree %s ./%s", r.how, r.file),
			fmt.Sprintf(`[ "$(rpm -q --qf '%%{NEVRA}' %s)" = "$(rpm -qp --qf '%%{NEVRA}' %s)" ] || { echo "crio-userns: %s is not the installed %s" >&2; exit 1; }`, r.name, r.file, r.file, r.name))
	}
	step = append(step,
		fmt.Sprintf(`for p in %s; do [ -e "$p" ] || { echo "crio-userns: $p missing: not a crio-userns build" >&2; exit 1; }; done`, strings.Join(in.expect, " ")))
	var subid []string
	for _, l := range strings.Split(strings.TrimSpace(string(in.subid)), "\n") {
		subid = append(subid, "'"+l+"'")
	}
	step = append(step,
		fmt.Sprintf("printf '%%s\\n' %s | tee /etc/subuid > /etc/subgid", strings.Join(subid, " ")),
		"cd /", "rm -rf /tmp/crio-userns",
		"ostree container commit")
	fmt.Fprintf(&b, "RUN %s\n", strings.Join(step, "; \\\n    "))
	return b.String()
}

// rpmsContainerfile builds the RPM image of the on-cluster build from a
// build context holding the RPMs (make rpm's _output/rpm).
func (in inputs) rpmsContainerfile() string {
	var b strings.Builder
	b.WriteString(in.header("#"))
	b.WriteString("# The RPMs only, for the on-cluster build's COPY --from (push it and pass its digest as --rpm-image).\nFROM scratch\n")
	for _, r := range in.rpmFiles() {
		fmt.Fprintf(&b, "COPY %s /\n", r.file)
	}
	return b.String()
}

func generateImage(in inputs) ([]OutputFile, error) {
	o := in.o
	cf := in.containerfile()
	if o.Image.OffCluster {
		return []OutputFile{{Name: "Containerfile", Data: []byte(cf),
			What: "off-cluster Containerfile: podman build -f it in the directory holding the RPMs; push; set osImageURL to the pushed digest"}}, nil
	}
	if len(cf) > MaxContainerfile {
		return nil, fmt.Errorf("the Containerfile is %d characters; a MachineOSConfig holds at most %d", len(cf), MaxContainerfile)
	}
	mosc := machineOSConfig{APIVersion: "machineconfiguration.openshift.io/v1", Kind: "MachineOSConfig"}
	mosc.Metadata.Name = o.Name
	s := &mosc.Spec
	s.MachineConfigPool.Name = o.Role
	s.ImageBuilder.ImageBuilderType = "Job"
	s.Containerfile = []containerfileSpec{{ContainerfileArch: "NoArch", Content: cf}}
	s.RenderedImagePushSpec = o.Image.PushSpec
	s.RenderedImagePushSecret.Name = o.Image.PushSecret
	if o.Image.PullSecret != "" {
		s.BaseImagePullSecret = &secretRef{Name: o.Image.PullSecret}
	}
	body, err := yaml.Marshal(mosc)
	if err != nil {
		return nil, err
	}
	var y bytes.Buffer
	y.WriteString(in.header("#"))
	y.Write(body)
	return []OutputFile{
		{Name: "machineosconfig.yaml", Data: y.Bytes(), What: "MachineOSConfig for pool " + o.Role + " (oc apply -f)"},
		{Name: "Containerfile", Data: []byte(cf), What: "its Containerfile, as embedded in the MachineOSConfig"},
		{Name: "Containerfile.rpms", Data: []byte(in.rpmsContainerfile()), What: "the RPM image: podman build -f it in the directory holding the RPMs, push, pass the digest as --rpm-image"},
	}, nil
}

// machineOSConfig is the part of machineconfiguration.openshift.io/v1
// MachineOSConfig this tool writes. The tests decode it into the
// openshift/api type and check it against the CRD's schema.
type machineOSConfig struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		MachineConfigPool struct {
			Name string `json:"name"`
		} `json:"machineConfigPool"`
		ImageBuilder struct {
			ImageBuilderType string `json:"imageBuilderType"`
		} `json:"imageBuilder"`
		BaseImagePullSecret     *secretRef          `json:"baseImagePullSecret,omitempty"`
		RenderedImagePushSecret secretRef           `json:"renderedImagePushSecret"`
		RenderedImagePushSpec   string              `json:"renderedImagePushSpec"`
		Containerfile           []containerfileSpec `json:"containerFile"`
	} `json:"spec"`
}

type secretRef struct {
	Name string `json:"name"`
}

type containerfileSpec struct {
	ContainerfileArch string `json:"containerfileArch"`
	Content           string `json:"content"`
}
