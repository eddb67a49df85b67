package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime/debug"
	"strings"
)

// This file is how every subcommand reads its flags (issue 13's
// papercuts): --help prints the usage on stdout and is not an error (so
// `frametap --help | less` works), flags may follow the arguments
// (`frametap view FILE --headless`), and --version says which build runs.

// errHelped says that --help (or --version) was answered: the command
// ends with status 0.
var errHelped = errors.New("help printed")

// parseFlags parses args with fs, flags and arguments in any order (an
// argument "--" ends the flags). fs prints its errors to its output;
// --help and --version print to stdout and return errHelped. usage
// writes the command's usage.
func parseFlags(fs *flag.FlagSet, args []string, stdout io.Writer, usage func(w io.Writer)) ([]string, error) {
	version := fs.Bool("version", false, "print frametap's version and exit")
	fs.Usage = func() {} // -h is answered below, on stdout; errors say how to get it
	var rest []string
	for {
		err := fs.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			usage(stdout)
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return nil, errHelped
		}
		if err != nil {
			fmt.Fprintf(fs.Output(), "Run %s --help for the flags.\n", fs.Name())
			return nil, err
		}
		if *version {
			fmt.Fprintln(stdout, versionString())
			return nil, errHelped
		}
		args = fs.Args()
		if len(args) == 0 {
			return rest, nil
		}
		if len(args) > 0 && args[0] == "--" {
			return append(rest, args[1:]...), nil
		}
		// Parse stopped at an argument: keep it, and read the flags after it.
		rest = append(rest, args[0])
		args = args[1:]
	}
}

// versionString names the build: the module version (or "(devel)"), the
// commit it was built from when known, and the Go version.
func versionString() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "frametap (unknown build)"
	}
	s := "frametap " + bi.Main.Version
	var rev, modified string
	for _, kv := range bi.Settings {
		switch kv.Key {
		case "vcs.revision":
			rev = kv.Value
		case "vcs.modified":
			modified = kv.Value
		}
	}
	if rev != "" {
		s += " commit " + rev[:min(12, len(rev))]
		if modified == "true" {
			s += "+modified"
		}
	}
	return s + " " + strings.TrimPrefix(bi.GoVersion, "go") + " (Go)"
}
