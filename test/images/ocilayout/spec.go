package ocilayout

// The few OCI image-spec v1.1 structures this writer needs. They are declared
// here rather than imported because the module does not depend on
// github.com/opencontainers/image-spec, and the JSON field names below are all
// a layout consumer (skopeo, containers/image) looks at.

// Media types, as in image-spec specs-go/v1/mediatype.go.
const (
	MediaTypeImageIndex     = "application/vnd.oci.image.index.v1+json"
	MediaTypeImageManifest  = "application/vnd.oci.image.manifest.v1+json"
	MediaTypeImageConfig    = "application/vnd.oci.image.config.v1+json"
	MediaTypeImageLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip"
)

// AnnotationRefName is the index.json annotation that `oci:DIR:TAG` matches TAG against.
const AnnotationRefName = "org.opencontainers.image.ref.name"

// Layout file names and version (image-spec image-layout.md).
const (
	LayoutFile    = "oci-layout"
	LayoutVersion = "1.0.0"
	IndexFile     = "index.json"
	BlobsDir      = "blobs"
)

// Descriptor points at a blob by digest and size.
type Descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Platform    *Platform         `json:"platform,omitempty"`
}

// Platform describes the OS and architecture an image runs on.
type Platform struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
}

// LayoutMarker is the content of the oci-layout file.
type LayoutMarker struct {
	Version string `json:"imageLayoutVersion"`
}

// Index is index.json.
type Index struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType,omitempty"`
	Manifests     []Descriptor `json:"manifests"`
}

// Manifest is an image manifest blob.
type Manifest struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType,omitempty"`
	Config        Descriptor   `json:"config"`
	Layers        []Descriptor `json:"layers"`
}

// ImageConfig is the image configuration blob ("application/vnd.oci.image.config.v1+json").
// Created is a string so that an unset time is omitted instead of being
// written as Go's zero time, which some tools render as year 1.
type ImageConfig struct {
	Created      string        `json:"created,omitempty"`
	Architecture string        `json:"architecture"`
	OS           string        `json:"os"`
	Config       RuntimeConfig `json:"config"`
	RootFS       RootFS        `json:"rootfs"`
	History      []History     `json:"history,omitempty"`
}

// RuntimeConfig is the "config" member of ImageConfig: how a container from
// the image is started by default.
type RuntimeConfig struct {
	User       string            `json:"User,omitempty"`
	Env        []string          `json:"Env,omitempty"`
	Entrypoint []string          `json:"Entrypoint,omitempty"`
	Cmd        []string          `json:"Cmd,omitempty"`
	WorkingDir string            `json:"WorkingDir,omitempty"`
	Labels     map[string]string `json:"Labels,omitempty"`
	StopSignal string            `json:"StopSignal,omitempty"`
}

// RootFS lists the uncompressed layer digests (diff IDs).
type RootFS struct {
	Type    string   `json:"type"`
	DiffIDs []string `json:"diff_ids"`
}

// History records how a layer was made.
type History struct {
	Created   string `json:"created,omitempty"`
	CreatedBy string `json:"created_by,omitempty"`
	Comment   string `json:"comment,omitempty"`
}
