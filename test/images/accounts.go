package images

// PasswdFile and GroupFile are the images' /etc/passwd and /etc/group: the
// entries of Fedora's setup package for the accounts field report 004 uses,
// with Fedora's IDs (which differ from Debian's: mail is 8:12, operator is
// 11:0, nobody is 65534:65534), since the reports' expectations are in
// Fedora's terms. Shells are /bin/sh because the images have no bash.
const (
	PasswdFile = `root:x:0:0:root:/root:/bin/sh
daemon:x:2:2:daemon:/sbin:/sbin/nologin
mail:x:8:12:mail:/var/spool/mail:/sbin/nologin
operator:x:11:0:operator:/root:/sbin/nologin
nobody:x:65534:65534:Kernel Overflow User:/:/sbin/nologin
`
	GroupFile = `root:x:0:
daemon:x:2:
mail:x:12:
nobody:x:65534:
`
)
