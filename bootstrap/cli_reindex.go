package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/tenantry/tenantry/domain"
)

// reindexPoll is how often `tenant reindex` reports progress and, while another
// process holds the job, checks whether it may take it over.
const reindexPoll = time.Second

func tenantReindexCommand(stdio IO, env func() (Config, error), schemaHCL []byte) *cobra.Command {
	var noWait bool
	cmd := &cobra.Command{
		Use:   "reindex [ID]",
		Short: "Rebuild a tenant's vectors from its stored text with its current embedder and vector store",
		Long: "Starts a re-index job of the tenant and runs it here, reporting progress until it is done " +
			"(a job already running is followed instead). With --no-wait it only starts the job, which a running " +
			"`tenantry serve` carries out. Until the job completes, the tenant is served lexically.",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := tenantID(cmd, args)
			if err != nil {
				return err
			}
			return withAdmin(cmd, env, stdio, schemaHCL, func(ctx context.Context, a *adminServices) error {
				job, err := a.reindex.Start(ctx, a.actor, id)
				switch {
				case errors.Is(err, domain.ErrReindexRunning):
					fmt.Fprintf(stdio.Out, "a re-index of %s is already running\n", id)
				case err != nil:
					return err
				default:
					fmt.Fprintf(stdio.Out, "started re-index %s of %s: %d chunks\n", job.ID, id, job.Total)
				}
				if noWait {
					fmt.Fprintln(stdio.Out, "not waiting: a running `tenantry serve` carries it out")
					return nil
				}
				return followReindex(ctx, stdio, a, id)
			})
		},
	}
	cmd.Flags().String("id", "", "the tenant id")
	cmd.Flags().BoolVar(&noWait, "no-wait", false, "only start the job; do not run it here or wait for it")
	return cmd
}

// followReindex runs tenant id's job in this process, or waits while another holds
// it, and prints its progress until it is no longer running.
func followReindex(ctx context.Context, stdio IO, a *adminServices, id domain.TenantID) error {
	printed := ""
	report := func() (domain.ReindexJob, domain.Tenant, error) {
		job, t, err := a.reindex.Status(ctx, a.actor, id)
		if err == nil {
			if line := fmt.Sprintf("%s: %s %d/%d chunks", id, job.State, job.Done, job.Total); line != printed {
				fmt.Fprintln(stdio.Out, line)
				printed = line
			}
		}
		return job, t, err
	}
	for {
		done := make(chan error, 1)
		go func() { done <- a.reindex.Run(ctx, id, a.jobs.owner) }()
		tick := time.NewTicker(reindexPoll)
		var runErr error
	wait:
		for {
			select {
			case runErr = <-done:
				break wait
			case <-tick.C:
				_, _, _ = report()
			}
		}
		tick.Stop()
		job, t, err := report()
		if err != nil {
			return err
		}
		switch job.State {
		case domain.ReindexDone:
			fmt.Fprintf(stdio.Out, "re-index of %s done; serving %s\n", id, t.ServingMode())
			return nil
		case domain.ReindexFailed:
			return fmt.Errorf("re-index of %s failed: %s", id, job.Error)
		}
		if runErr != nil && !errors.Is(runErr, domain.ErrReindexLost) {
			return fmt.Errorf("re-index of %s paused at %d/%d chunks (it stays running; run this again or start serve): %w",
				id, job.Done, job.Total, runErr)
		}
		select { // another process holds the job: look again shortly
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(reindexPoll):
		}
	}
}
