package app

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
)

// syslogHook sends records to the local syslog socket. It is written
// against syscall rather than log/syslog because log/syslog pulls in the
// net package, and with it cgo and a dynamically linked binary whose start-
// up costs the runtime a millisecond per container.
type syslogHook struct {
	fd      int
	dropped int // records the daemon had no room for
}

// facility authpriv: the records are about refused containers.
const logAuthpriv = 10 << 3

func dialSyslog(path string) (*syslogHook, error) {
	// Non-blocking: a syslog daemon that does not drain its socket makes
	// the hook drop records, never wait for it.
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC|syscall.SOCK_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	if err := syscall.Connect(fd, &syscall.SockaddrUnix{Name: path}); err != nil {
		syscall.Close(fd)
		return nil, &os.PathError{Op: "connect", Path: path, Err: err}
	}
	return &syslogHook{fd: fd}, nil
}

func (h *syslogHook) Levels() []logrus.Level { return logrus.AllLevels }

// Fire writes "<PRI>Mmm dd hh:mm:ss crio-userns-hook[PID]: record", the
// format syslogd and journald accept on /dev/log.
func (h *syslogHook) Fire(e *logrus.Entry) error {
	sev := 4 // warning
	if e.Level <= logrus.ErrorLevel {
		sev = 3
	}
	line, err := e.String()
	if err != nil {
		return err
	}
	msg := fmt.Sprintf("<%d>%s %s[%d]: %s", logAuthpriv|sev, time.Now().Format(time.Stamp), Prog, os.Getpid(), strings.TrimRight(line, "\n"))
	_, err = syscall.Write(h.fd, []byte(msg))
	if errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.ENOBUFS) {
		h.dropped++
		return nil
	}
	return err
}

func (h *syslogHook) Close() error { return syscall.Close(h.fd) }
