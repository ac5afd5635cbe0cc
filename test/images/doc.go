// Package images builds the node bench's test images from this repository's
// own sources and loads them into a CRI-O image store, with no registry:
//
//   - RefUsernstest: the static usernstest program (field report 004's
//     multi-user experiment) as entrypoint, with Fedora's accounts;
//   - RefFedoraStandin: busybox-static with the same accounts, so the field
//     reports' Fedora manifests run unchanged but for the image name;
//   - RefPause: usernstest in pause mode at /pause, the node's pause_image.
//
// Build compiles the Go binary and writes one OCI image layout per image
// (package ocilayout); Load copies a layout into containers-storage with
// skopeo, which is what CRI-O reads, and unmounts what skopeo leaves mounted.
// Everything is reproducible: the same sources give the same image digests.
package images
