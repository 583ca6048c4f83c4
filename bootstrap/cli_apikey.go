package bootstrap

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tenantry/tenantry/adapters/httpapi"
	"github.com/tenantry/tenantry/application"
	"github.com/tenantry/tenantry/domain"
)

func apikeyCommand(stdio IO, env func() (Config, error), schemaHCL []byte) *cobra.Command {
	cmd := &cobra.Command{Use: "apikey", Short: "Manage tenants' API keys (create, list, revoke)",
		Long: `API keys let programs (an OpenAI client, a cron job) call the tenant API and /v1 with
"Authorization: Bearer tnt_…" instead of logging in. A key acts as one user of its tenant
with the member role: a named user (--user), or a service user made for it.`}
	cmd.AddCommand(apikeyCreateCommand(stdio, env, schemaHCL), apikeyListCommand(stdio, env, schemaHCL), apikeyRevokeCommand(stdio, env, schemaHCL))
	return cmd
}

func apikeyCreateCommand(stdio IO, env func() (Config, error), schemaHCL []byte) *cobra.Command {
	var tenant, name, user string
	var expiresIn time.Duration
	cmd := &cobra.Command{
		Use: "create", Short: "Create an API key; the key is printed once and never again", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withAdmin(cmd, env, stdio, schemaHCL, func(ctx context.Context, a *adminServices) error {
				in := application.NewAPIKeyInput{TenantID: domain.TenantID(tenant), Name: name}
				if user != "" {
					u, err := a.users.FindByEmail(ctx, a.actor.Principal, user)
					if err != nil {
						return fmt.Errorf("find user %s: %w", user, err)
					}
					in.UserID = u.ID
				}
				if expiresIn > 0 {
					at := time.Now().Add(expiresIn)
					in.ExpiresAt = &at
				}
				k, err := a.apiKeys.Create(ctx, a.actor, in)
				if err != nil {
					return err
				}
				fmt.Fprintf(stdio.Err, "created API key %s (%q, tenant %s); it is shown only this once:\n", k.Key.ID, k.Key.Name, k.Key.TenantID)
				fmt.Fprintln(stdio.Out, k.Secret)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&tenant, "tenant", "", "the tenant id (required)")
	cmd.Flags().StringVar(&name, "name", "", "what the key is for (required)")
	cmd.Flags().StringVar(&user, "user", "", "email of the tenant's user the key acts as (default: a service user)")
	cmd.Flags().DurationVar(&expiresIn, "expires-in", 0, "lifetime, such as 2160h (default: no expiry)")
	_ = cmd.MarkFlagRequired("tenant")
	_ = cmd.MarkFlagRequired("name")
	return cmd
}

func apikeyListCommand(stdio IO, env func() (Config, error), schemaHCL []byte) *cobra.Command {
	var tenant string
	var asJSON bool
	cmd := &cobra.Command{
		Use: "list", Short: "List API keys (never their secrets), optionally of one tenant", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withAdmin(cmd, env, stdio, schemaHCL, func(ctx context.Context, a *adminServices) error {
				var all []domain.APIKey
				for off := 0; ; off += 100 {
					ks, err := a.apiKeys.List(ctx, a.actor.Principal, domain.TenantID(tenant), domain.Page{Limit: 100, Offset: off})
					if err != nil {
						return err
					}
					all = append(all, ks...)
					if len(ks) < 100 {
						break
					}
				}
				if asJSON {
					out := make([]any, 0, len(all))
					for _, k := range all {
						out = append(out, httpapi.APIKeyRepresentation(k))
					}
					return writeJSON(stdio.Out, out)
				}
				w := tabwriter.NewWriter(stdio.Out, 0, 4, 2, ' ', 0)
				fmt.Fprintln(w, "ID\tTENANT\tNAME\tPREFIX\tCREATED\tLAST USED\tSTATE")
				for _, k := range all {
					last, state := "never", "active"
					if k.LastUsedAt != nil {
						last = k.LastUsedAt.Format(time.RFC3339)
					}
					if k.Revoked() {
						state = "revoked"
					} else if k.Usable(time.Now()) != nil {
						state = "expired"
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%s…\t%s\t%s\t%s\n", k.ID, k.TenantID, k.Name, k.Hint, k.CreatedAt.Format(time.RFC3339), last, state)
				}
				return w.Flush()
			})
		},
	}
	cmd.Flags().StringVar(&tenant, "tenant", "", "only this tenant's keys")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func apikeyRevokeCommand(stdio IO, env func() (Config, error), schemaHCL []byte) *cobra.Command {
	return &cobra.Command{
		Use: "revoke ID", Short: "Revoke an API key at once, on every node", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withAdmin(cmd, env, stdio, schemaHCL, func(ctx context.Context, a *adminServices) error {
				k, err := a.apiKeys.Revoke(ctx, a.actor, "", domain.APIKeyID(args[0]))
				if err != nil {
					return fmt.Errorf("revoke API key %s: %w", args[0], err)
				}
				fmt.Fprintf(stdio.Out, "API key %s (%q, tenant %s) revoked\n", k.ID, k.Name, k.TenantID)
				return nil
			})
		},
	}
}
