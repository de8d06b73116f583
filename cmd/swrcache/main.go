package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/redis/go-redis/v9"
)

// Exit codes; see the package documentation.
const (
	exitOK          = 0
	exitProblem     = 1
	exitFail        = 2
	exitUnreachable = 3
	exitUsage       = 64
)

// subcommand runs one subcommand with its arguments, writing results to
// stdout and diagnostics to stderr, and returns the exit code.
type subcommand func(ctx context.Context, args []string, stdout, stderr io.Writer) int

var subcommands = map[string]subcommand{
	"inspect":    runInspect,
	"invalidate": runInvalidate,
	"doctor":     runDoctor,
	"watch":      runWatch,
	"load":       runLoad,
}

const usage = `usage: swrcache <subcommand> [flags]

subcommands:
  inspect     print the entry cached for a URL (and its Vary variants) or a key
  invalidate  remove entries by tag, by key or by URL, and tell every instance
  doctor      check a Redis (or each master of a cluster) against the operating guide
  watch       print invalidation notices as they are published, until Ctrl-C
  load        drive URLs with the cache off, then on: req/s, p50/p99, hit ratio, origin calls, memory

"swrcache <subcommand> -h" lists its flags.
exit codes: 0 done, 1 doctor warns, inspect found nothing or load saw errors, 2 doctor fails,
3 Redis unreachable, 64 usage.
`

func main() {
	// go-redis logs dial failures on its own; every failure that matters
	// here is reported once, as a result or on stderr.
	redis.SetLogger(quiet{})
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

// run dispatches args to their subcommand.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	cmd, ok := subcommands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "swrcache: unknown subcommand %q\n\n%s", args[0], usage)
		return exitUsage
	}
	return cmd(ctx, args[1:], stdout, stderr)
}

// newFlagSet returns the flag set of a subcommand, whose usage text starts
// with synopsis.
func newFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: swrcache %s\n\nflags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args into fs. done reports that the subcommand should stop
// with code: -h (0), a bad flag or a stray argument (64).
func parse(fs *flag.FlagSet, args []string) (code int, done bool) {
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return exitOK, true
	case err != nil:
		return exitUsage, true // the flag package printed the error and the usage
	case fs.NArg() > 0:
		fmt.Fprintf(fs.Output(), "swrcache %s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		fs.Usage()
		return exitUsage, true
	}
	return 0, false
}

// usageError prints msg and the usage of fs, and returns exitUsage.
func usageError(fs *flag.FlagSet, format string, args ...any) int {
	fmt.Fprintf(fs.Output(), "swrcache %s: %s\n", fs.Name(), fmt.Sprintf(format, args...))
	fs.Usage()
	return exitUsage
}

// outputFlag registers --output, text or json.
func outputFlag(fs *flag.FlagSet) *string {
	return fs.String("output", "text", "`format` of the results: text or json")
}

// checkOutput returns a usage error unless output is text or json.
func checkOutput(fs *flag.FlagSet, output string) (code int, bad bool) {
	if output != "text" && output != "json" {
		return usageError(fs, "--output must be text or json, not %q", output), true
	}
	return 0, false
}
