//go:build !linux

package bench

import (
	"errors"
	"os/exec"
)

func setChildAttrs(cmd *exec.Cmd) {}

func allowedCPUs() string { return "?" }

func pinSelf(cpus []int) error { return errors.New("pinning needs Linux") }
