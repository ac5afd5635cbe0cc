// Package accounts reads the accounts an image declares in its /etc/passwd
// and /etc/group, safely: the files are opened relative to the container's
// root filesystem without following any link out of it, and their size is
// bounded, because the rootfs is image content the hook does not trust.
package accounts
