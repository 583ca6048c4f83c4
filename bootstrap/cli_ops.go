package bootstrap

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/tenantry/tenantry/adapters/migrate"
)

// runMigrate applies (or with dryRun only prints) the declared schema.
func runMigrate(ctx context.Context, cfg Config, stdio IO, schemaHCL []byte, dryRun, allowDestructive bool) error {
	log, err := newLogger(cfg, stdio.Err)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	dc := dbConfig(cfg)
	_, sqlDB, err := openSQL(ctx, dc)
	if err != nil {
		return err
	}
	defer sqlDB.Close()
	// A dry run changes nothing, so it shows destructive plans too.
	plan, err := migrate.Apply(ctx, sqlDB, schemaHCL, migrate.Options{DryRun: dryRun, AllowDestructive: allowDestructive || dryRun})
	if errors.Is(err, migrate.ErrDestructive) {
		fmt.Fprintf(stdio.Err, "refused: the plan drops data:\n")
		for _, d := range plan.Destructive {
			fmt.Fprintf(stdio.Err, "  - %s\n", d)
		}
		fmt.Fprintf(stdio.Err, "re-run with --allow-destructive to apply it, or --dry-run to see the SQL\n")
		return errReported
	}
	if err != nil {
		return err
	}
	switch {
	case plan.Empty():
		fmt.Fprintln(stdio.Out, "no changes: the database matches schema.hcl")
	case dryRun:
		fmt.Fprintf(stdio.Out, "-- dry run (%s): %d statements, nothing applied\n", plan.Dialect, len(plan.Statements))
		for _, d := range plan.Destructive {
			fmt.Fprintf(stdio.Out, "-- destructive (needs --allow-destructive): %s\n", d)
		}
		fmt.Fprint(stdio.Out, plan.SQL())
	default:
		fmt.Fprintf(stdio.Out, "applied %d statements (%s)\n", len(plan.Statements), plan.Dialect)
		log.Info("schema applied", zap.String("dialect", plan.Dialect), zap.Int("statements", len(plan.Statements)))
	}
	return nil
}

func keysCommand(stdio IO, env func() (Config, error), schemaHCL []byte) *cobra.Command {
	cmd := &cobra.Command{Use: "keys", Short: "Manage token signing keys"}
	rotate := &cobra.Command{
		Use:   "rotate",
		Short: "Make a new active signing key; old keys keep verifying until their tokens expire",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withRuntime(cmd, env, stdio, schemaHCL, func(ctx context.Context, rt *runtime) error {
				kid, err := rt.keys.Rotate(ctx)
				if err != nil {
					return err
				}
				fmt.Fprintf(stdio.Out, "new active signing key %s (%s)\n", kid, rt.keys.Algorithm())
				return nil
			})
		},
	}
	prune := &cobra.Command{
		Use:   "prune",
		Short: "Delete retired keys whose tokens have all expired",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withRuntime(cmd, env, stdio, schemaHCL, func(ctx context.Context, rt *runtime) error {
				n, err := rt.keys.Prune(ctx)
				if err != nil {
					return err
				}
				fmt.Fprintf(stdio.Out, "deleted %d expired signing keys\n", n)
				return nil
			})
		},
	}
	cmd.AddCommand(rotate, prune)
	return cmd
}

func secretsCommand(stdio IO, env func() (Config, error), schemaHCL []byte) *cobra.Command {
	cmd := &cobra.Command{Use: "secrets", Short: "Manage the encryption of stored secrets"}
	cmd.AddCommand(&cobra.Command{
		Use:   "rotate-key",
		Short: "Re-encrypt every stored secret under the current TENANTRY_SECRET_KEY",
		Long: `Re-encrypt every tenant API key under the current master key, and replace the active
token signing key if its private part is still sealed under an old master key (tokens it
signed keep verifying from its public part). Set the new key as TENANTRY_SECRET_KEY and the
old one in TENANTRY_SECRET_KEY_PREVIOUS, run this command, then drop the old key. It is
idempotent and resumable: each tenant is re-encrypted in its own transaction, and a second
run finds nothing to do.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withRuntime(cmd, env, stdio, schemaHCL, func(ctx context.Context, rt *runtime) error {
				n, err := rt.tenantDB.ResealSecrets(ctx, rt.keyring)
				if err != nil {
					return err
				}
				fmt.Fprintf(stdio.Out, "re-encrypted %d secrets under the current key\n", n)
				kid, err := resealSigningKey(ctx, rt)
				if err != nil {
					return err
				}
				if kid != "" {
					fmt.Fprintf(stdio.Out, "the active signing key was sealed under a previous master key: new active signing key %s (tokens already issued keep verifying)\n", kid)
				}
				return nil
			})
		},
	})
	return cmd
}

// resealSigningKey replaces the active signing key when its private part is sealed under
// a previous master key, which the operator is about to drop: the server could no longer
// sign. Retired keys only verify, from their public parts, so they need no master key.
// It returns the new kid, or "" when nothing needed doing.
func resealSigningKey(ctx context.Context, rt *runtime) (string, error) {
	stored, err := rt.signingKeys.List(ctx)
	if err != nil {
		return "", fmt.Errorf("list signing keys: %w", err)
	}
	for _, k := range stored {
		if k.Active() && rt.keyring.NeedsReseal(k.Private) {
			return rt.keys.Rotate(ctx)
		}
	}
	return "", nil
}

func withRuntime(cmd *cobra.Command, env func() (Config, error), stdio IO, schemaHCL []byte, fn func(context.Context, *runtime) error) error {
	cfg, err := env()
	if err != nil {
		return err
	}
	rt, err := openRuntime(cmd.Context(), cfg, stdio, schemaHCL, false)
	if err != nil {
		return err
	}
	defer rt.Close()
	return fn(cmd.Context(), rt)
}
