package bench

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

// Process says where one side of a run ran: which process, on which CPUs,
// and how much CPU time it used (BENCHMARKING.md: note the cores each side
// used).
type Process struct {
	Role string `json:"role"`
	PID  int    `json:"pid"`
	// CPUs are the CPUs the process may run on, as a Linux CPU list ("0-1").
	CPUs string `json:"cpus"`
	// UserS and SysS are the CPU seconds used in user and kernel mode.
	UserS float64 `json:"user_s"`
	SysS  float64 `json:"sys_s"`
}

// self describes this process.
func self(role string) Process {
	p := Process{Role: role, PID: os.Getpid(), CPUs: allowedCPUs()}
	p.UserS, p.SysS = cpuTimes()
	return p
}

// signalContext is a context that ends on SIGINT or SIGTERM.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}
