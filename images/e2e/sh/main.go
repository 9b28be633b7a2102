// kdc's /bin/sh for the busybox test image: busybox's ash, as upstream's image runs, except
// when the environment holds a variable whose name is not a shell identifier (`data-1`,
// `1-x`): Debian's ash drops those from its children's environment, which the Secrets and
// ConfigMap env specs read back with `sh -c env`, so then the shell is a static bash, which keeps
// them. argv[0] is passed on, so messages still begin with "/bin/sh: ".
package main

import (
	"fmt"
	"os"
	"strings"
	"syscall"
)

func identifier(name string) bool {
	for i, c := range name {
		if c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (i > 0 && c >= '0' && c <= '9') {
			continue
		}
		return false
	}
	return name != ""
}

func main() {
	shell := "/bin/busybox"
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); !identifier(name) {
			shell = "/bin/bash"
			break
		}
	}
	// argv as given: busybox picks its applet by argv[0]'s base name, "sh".
	err := syscall.Exec(shell, os.Args, os.Environ())
	fmt.Fprintf(os.Stderr, "%s: %v\n", shell, err)
	os.Exit(127)
}
