package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// IO is where commands read and write; tests replace it.
type IO struct {
	In       io.Reader
	Out, Err io.Writer
	Getenv   func(string) string
}

// Main runs the command line and returns the process exit code. SIGINT and SIGTERM
// cancel the context, which stops the server gracefully.
func Main(args []string, schemaHCL []byte) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return Run(ctx, args, IO{In: os.Stdin, Out: os.Stdout, Err: os.Stderr, Getenv: os.Getenv}, schemaHCL)
}

// Run executes one command with explicit IO and returns its exit code.
func Run(ctx context.Context, args []string, stdio IO, schemaHCL []byte) int {
	root := newRootCommand(stdio, schemaHCL)
	root.SetArgs(args)
	root.SetIn(stdio.In)
	root.SetOut(stdio.Out)
	root.SetErr(stdio.Err)
	if err := root.ExecuteContext(ctx); err != nil {
		if !errors.Is(err, errReported) {
			fmt.Fprintln(stdio.Err, "tenantry:", userMessage(err))
		}
		return 1
	}
	return 0
}

// errReported marks an error whose message the command already printed.
var errReported = errors.New("reported")
