// Command critest-registry serves critest's test images from a registry on
// loopback: go-containerregistry's in-memory registry, filled at start from
// OCI image layouts built here (stand-ins for the images critest names).
//
//	critest-registry -addr 127.0.0.1:5000 -images images.json
//
// images.json maps each repository:tag (without the registry) to a layout
// directory and the tag of the image in it:
//
//	{"e2e-test-images/busybox:1.29-2": {"layout": "/x/layouts/busybox", "tag": "latest"}}
//
// It prints "ready" (and writes -ready FILE) once every image is pushed and
// serves until killed.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"sort"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

type source struct {
	Layout string `json:"layout"`
	Tag    string `json:"tag"`
}

func main() {
	addr := flag.String("addr", "127.0.0.1:5000", "address to serve on (loopback)")
	imagesFile := flag.String("images", "", "JSON map of repository:tag to OCI layout")
	readyFile := flag.String("ready", "", "file to write once every image is served")
	flag.Parse()
	data, err := os.ReadFile(*imagesFile)
	if err != nil {
		log.Fatal(err)
	}
	var images map[string]source
	if err := json.Unmarshal(data, &images); err != nil {
		log.Fatalf("%s: %v", *imagesFile, err)
	}
	l, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	go func() { log.Fatal(http.Serve(l, registry.New(registry.Logger(log.New(os.Stderr, "", 0))))) }()

	refs := make([]string, 0, len(images))
	for r := range images {
		refs = append(refs, r)
	}
	sort.Strings(refs)
	for _, r := range refs {
		if err := push(l.Addr().String(), r, images[r]); err != nil {
			log.Fatalf("%s: %v", r, err)
		}
	}
	fmt.Println("ready")
	if *readyFile != "" {
		if err := os.WriteFile(*readyFile, []byte("ready\n"), 0o644); err != nil {
			log.Fatal(err)
		}
	}
	select {}
}

// push copies the image tagged src.Tag in src.Layout to addr/ref.
func push(addr, ref string, src source) error {
	p, err := layout.FromPath(src.Layout)
	if err != nil {
		return err
	}
	idx, err := p.ImageIndex()
	if err != nil {
		return err
	}
	man, err := idx.IndexManifest()
	if err != nil {
		return err
	}
	for _, d := range man.Manifests {
		if d.Annotations["org.opencontainers.image.ref.name"] != src.Tag {
			continue
		}
		img, err := p.Image(d.Digest)
		if err != nil {
			return err
		}
		dst, err := name.ParseReference(addr+"/"+ref, name.Insecure)
		if err != nil {
			return err
		}
		return remote.Write(dst, img)
	}
	return fmt.Errorf("layout %s has no image tagged %q", src.Layout, src.Tag)
}
