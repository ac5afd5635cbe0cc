// Package idmap is the project's one model of user-namespace ID mappings.
//
// Mappings are runtime-spec LinuxIDMapping values (the type CRI-O writes into
// config.json), so the hook, the test tools and the e2e suite speak about the
// same thing. Everything here is a pure function over slices of mappings, in
// the manner of runc's libcontainer/userns, except the parsers, which take an
// io.Reader so that /proc/PID/uid_map and config.json share one reading.
package idmap
