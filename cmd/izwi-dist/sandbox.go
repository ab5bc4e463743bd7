package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"syscall"

	"golang.org/x/sys/unix"
)

// runSandboxExec drops to -uid/-gid and, with -mdwe, turns on the kernel's
// memory-deny-write-execute (prctl PR_SET_MDWE, inherited across execve;
// what systemd's MemoryDenyWriteExecute= enforces with seccomp), then
// execs the command. The package test runs izwi under it so the unit's
// MemoryDenyWriteExecute=yes is known to suit sherpa-onnx/onnxruntime.
func runSandboxExec(_ context.Context, args []string) error {
	fs := flag.NewFlagSet("sandbox-exec", flag.ContinueOnError)
	uid := fs.Int("uid", -1, "user id to run as")
	gid := fs.Int("gid", -1, "group id to run as")
	mdwe := fs.Bool("mdwe", false, "refuse writable-and-executable memory (PR_SET_MDWE)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return fmt.Errorf("want [-uid N -gid N] [-mdwe] -- COMMAND [ARGS]")
	}
	if *mdwe {
		if err := unix.Prctl(unix.PR_SET_MDWE, unix.PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0); err != nil {
			return fmt.Errorf("prctl(PR_SET_MDWE): %w", err)
		}
	}
	if *gid >= 0 {
		if err := syscall.Setgroups(nil); err != nil {
			return err
		}
		if err := syscall.Setgid(*gid); err != nil {
			return err
		}
	}
	if *uid >= 0 {
		if err := syscall.Setuid(*uid); err != nil {
			return err
		}
	}
	path, err := exec.LookPath(fs.Arg(0))
	if err != nil {
		return err
	}
	return syscall.Exec(path, fs.Args(), os.Environ())
}
