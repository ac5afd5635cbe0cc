package app

import (
	"fmt"
	"io"
	"os"

	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/writer"

	"github.com/crio-userns/crio-userns/hook/internal/bundle"
	"github.com/crio-userns/crio-userns/hook/internal/checks"
	"github.com/crio-userns/crio-userns/internal/policy"
	"github.com/crio-userns/crio-userns/internal/safefile"
)

// report turns an outcome into output and an exit status:
//
//   - pass: nothing at all, exit 0;
//   - refusal (enforce mode, or any failure of the hook itself): first the
//     verdict line "crio-userns-hook: <ns>/<pod>/<container>: <reason>;
//     <fix>", which the runtime puts into CreateContainer's error, then one
//     structured record per finding, exit 1;
//   - audit mode, warnings or notes only: the records, exit 0.
//
// Records go to stderr and to the policy's audit_log: the runtime discards
// a hook's stderr when it exits 0, so without the second place audit mode
// would log nothing anyone sees. The verdict is decided, and its line
// written, before the audit log is opened: the deadline watcher keeps it
// if writing the records stalls.
func report(out outcome, f flags, inv *invocation) int {
	if out.fail == nil && len(out.findings) == 0 && len(out.notes) == 0 {
		inv.decided(ExitOK)
		return ExitOK
	}
	pol := policy.Policy{}.Defaults()
	if out.pol != nil {
		pol = *out.pol
	}
	code := ExitOK
	refuse := pol.Mode == policy.Enforce && checks.HasErrors(out.findings)
	switch {
	case out.fail != nil:
		fmt.Fprintf(inv.stderr, "%s: %s: %s; %s\n", Prog, out.target, oneLine(out.fail.reason), oneLine(out.fail.fix))
		code = ExitFail
	case refuse:
		for _, fd := range out.findings {
			if fd.Severity == checks.Error {
				fmt.Fprintf(inv.stderr, "%s: %s: %s; %s\n", Prog, out.target, oneLine(fd.Reason), oneLine(fd.Fix))
				break
			}
		}
		code = ExitFail
	}
	inv.decided(code)

	inv.setStep("writing the audit log")
	log, closeSink, sinkErr := newLogger(f.logFormat, inv.stderr, pol.AuditLog)
	defer closeSink()
	base := targetFields(out.target)
	base["mode"] = string(pol.Mode)
	if out.fail != nil {
		e := log.WithFields(base).WithFields(logrus.Fields{
			"check": "hook", "reason": out.fail.reason, "fix": out.fail.fix, "action": "refused",
		})
		if out.fail.stack != "" {
			e = e.WithField("stack", out.fail.stack)
		}
		e.Error("container refused: the hook could not check it")
	}
	for _, fd := range out.findings {
		e := log.WithFields(base).WithFields(findingFields(fd))
		switch {
		case fd.Severity == checks.Error && refuse:
			e.WithField("action", "refused").Error("container refused: " + fd.Check.String())
		case fd.Severity == checks.Error:
			e.WithField("action", "audit").Warn("audit mode, would refuse: " + fd.Check.String())
		default:
			e.WithField("action", "warned").Warn("warning: " + fd.Check.String())
		}
	}
	if out.late != nil {
		log.WithFields(base).WithFields(logrus.Fields{
			"check": "hook", "reason": out.late.reason, "fix": out.late.fix, "action": "refused",
		}).Error("the hook also failed after the findings above")
	}
	for _, n := range out.notes {
		log.WithFields(base).WithFields(logrus.Fields{"check": "policy", "reason": n, "action": "warned"}).Warn("warning: configuration")
	}
	if sinkErr != nil {
		log.WithField("audit_log", pol.AuditLog).WithError(sinkErr).Warn("audit log unavailable")
	}
	return code
}

func targetFields(t bundle.Target) logrus.Fields {
	return logrus.Fields{
		"pod_namespace": checks.Printable(t.Namespace), "pod_name": checks.Printable(t.Pod), "pod_uid": checks.Printable(t.PodUID),
		"container": checks.Printable(t.Container), "container_id": checks.Printable(t.ContainerID),
	}
}

func findingFields(fd checks.Finding) logrus.Fields {
	fl := logrus.Fields{
		"check": fd.Check.String(), "check_id": int(fd.Check), "severity": fd.Severity.String(),
		"reason": fd.Reason, "fix": fd.Fix,
	}
	if fd.Map != "" {
		fl["map"] = fd.Map
	}
	if fd.Extent != "" {
		fl["extent"] = fd.Extent
	}
	return fl
}

// newLogger builds the stderr logger and attaches the audit sink. A sink
// that cannot be opened is returned as an error for the caller to log after
// the verdict line, and skipped: the verdict must not depend on syslog.
func newLogger(format string, stderr io.Writer, sink string) (*logrus.Logger, func(), error) {
	log := logrus.New()
	log.Out = stderr
	log.Level = logrus.InfoLevel
	if format == "json" {
		log.Formatter = &logrus.JSONFormatter{}
	} else {
		log.Formatter = &logrus.TextFormatter{DisableColors: true, FullTimestamp: true}
	}
	closeFn := func() {}
	useSyslog := func() error {
		if _, err := os.Stat("/dev/log"); err != nil {
			return nil // no syslog daemon (containers, minimal hosts): nothing to do
		}
		h, err := dialSyslog("/dev/log")
		if err != nil {
			return err
		}
		log.AddHook(h)
		closeFn = func() {
			if h.dropped > 0 {
				fmt.Fprintf(stderr, "%s: syslog had no room for %d record(s): is the syslog daemon reading /dev/log?\n", Prog, h.dropped)
			}
			h.Close()
		}
		return nil
	}
	var sinkErr error
	switch sink {
	case "none", "":
	case "syslog":
		sinkErr = useSyslog()
	default:
		fl, err := safefile.OpenAppend(sink)
		if err != nil {
			// Some runtimes (crun) discard a hook's stderr: without a
			// second place the reason would be lost.
			sinkErr = err
			if useSyslog() == nil {
				sinkErr = fmt.Errorf("%w; records went to syslog instead", err)
			}
			break
		}
		log.AddHook(&writer.Hook{Writer: fl, LogLevels: logrus.AllLevels})
		closeFn = func() { fl.Close() }
	}
	return log, closeFn, sinkErr
}
