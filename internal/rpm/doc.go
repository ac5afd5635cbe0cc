// Package rpm builds and checks the project's two RPMs from rpm/*.spec:
// cri-o (CRI-O with the patch series, plus the hook and its configuration, for
// `rpm-ostree override replace`) and crio-userns-hook (the hook alone).
//
// Stage writes every input into one SOURCES directory: CRI-O's pristine
// source repacked from the Go module proxy's zip, `go mod vendor` of the
// patched tree, the hook's sources and their vendor/, the series' patches, and
// two generated files (crio-userns.macros, *.changelog). Build makes the
// source RPMs from them and rebuilds each one in a fresh rpmbuild tree inside
// an empty network namespace, which proves they build offline. Check lints
// the packages, compares their file lists with rpm/*.files.expected, installs
// them into an empty root and runs what was installed, up to an e2e scenario.
package rpm
