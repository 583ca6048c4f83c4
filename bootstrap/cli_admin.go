package bootstrap

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/tenantry/tenantry/adapters/httpapi"
	"github.com/tenantry/tenantry/application"
	"github.com/tenantry/tenantry/domain"
)

// withAdmin opens the database (applying the schema on the embedded default), builds
// the administration use cases, runs fn as the platform operator and closes everything.
func withAdmin(cmd *cobra.Command, env func() (Config, error), stdio IO, schemaHCL []byte, fn func(ctx context.Context, a *adminServices) error) error {
	cfg, err := env()
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	rt, err := openRuntime(ctx, cfg, stdio, schemaHCL, false)
	if err != nil {
		return err
	}
	defer rt.Close()
	return fn(ctx, rt.admin())
}

func userCommand(stdio IO, env func() (Config, error), schemaHCL []byte) *cobra.Command {
	cmd := &cobra.Command{Use: "user", Short: "Manage users (create, assign, passwd, disable, enable, list)"}
	var email, tenant, role string
	var passwordStdin bool
	create := &cobra.Command{
		Use:   "create",
		Short: "Create a user; the password is read from stdin",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !passwordStdin {
				return fmt.Errorf("--password-stdin is required: pipe the password in, it is never taken from a flag")
			}
			pw, err := readSecretLine(stdio.In, "password")
			if err != nil {
				return err
			}
			return withAdmin(cmd, env, stdio, schemaHCL, func(ctx context.Context, a *adminServices) error {
				u, err := a.users.Create(ctx, a.actor, application.NewUserInput{Email: email, Password: pw, Role: domain.Role(role), TenantID: domain.TenantID(tenant)})
				if err != nil {
					return err
				}
				fmt.Fprintf(stdio.Out, "created user %s (%s, role %s, tenant %s)\n", u.ID, u.Email, u.Role, orNone(string(u.TenantID)))
				return nil
			})
		},
	}
	create.Flags().StringVar(&email, "email", "", "the user's email (required)")
	create.Flags().StringVar(&tenant, "tenant", "", "the tenant id to assign")
	create.Flags().StringVar(&role, "role", "member", "member, tenant_admin or platform_admin")
	create.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read the password from stdin (required)")
	_ = create.MarkFlagRequired("email")

	cmd.AddCommand(create,
		userPatchCommand(stdio, env, schemaHCL, "assign", "Assign a user to a tenant (replaces the seed's manual UPDATE users SET tenant_id)", true,
			func(c *cobra.Command) domain.UserPatch {
				t, _ := c.Flags().GetString("tenant")
				id := domain.TenantID(t)
				return domain.UserPatch{TenantID: &id}
			}),
		userPatchCommand(stdio, env, schemaHCL, "disable", "Disable a user and revoke their tokens", false,
			func(*cobra.Command) domain.UserPatch { v := true; return domain.UserPatch{Disabled: &v} }),
		userPatchCommand(stdio, env, schemaHCL, "enable", "Re-enable a disabled user", false,
			func(*cobra.Command) domain.UserPatch { v := false; return domain.UserPatch{Disabled: &v} }),
		userPasswdCommand(stdio, env, schemaHCL),
		userListCommand(stdio, env, schemaHCL),
	)
	return cmd
}

func userPatchCommand(stdio IO, env func() (Config, error), schemaHCL []byte, use, short string, needsTenant bool, patch func(*cobra.Command) domain.UserPatch) *cobra.Command {
	var email string
	cmd := &cobra.Command{
		Use: use, Short: short, Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withAdmin(cmd, env, stdio, schemaHCL, func(ctx context.Context, a *adminServices) error {
				u, err := a.users.FindByEmail(ctx, a.actor.Principal, email)
				if err != nil {
					return fmt.Errorf("find user %s: %w", email, err)
				}
				u, err = a.users.Update(ctx, a.actor, u.ID, patch(cmd))
				if err != nil {
					return err
				}
				fmt.Fprintf(stdio.Out, "user %s: tenant %s, role %s, disabled %t\n", u.Email, orNone(string(u.TenantID)), u.Role, u.Disabled)
				if u.Role == domain.RolePlatformAdmin && u.HasTenant() {
					fmt.Fprintf(stdio.Out, "note: %s is a platform admin and now a member of tenant %s; its tenant admins cannot change it\n", u.Email, u.TenantID)
				}
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&email, "email", "", "the user's email (required)")
	_ = cmd.MarkFlagRequired("email")
	if needsTenant {
		cmd.Flags().String("tenant", "", "the tenant id (required)")
		_ = cmd.MarkFlagRequired("tenant")
	}
	return cmd
}

func userPasswdCommand(stdio IO, env func() (Config, error), schemaHCL []byte) *cobra.Command {
	var email string
	var passwordStdin bool
	cmd := &cobra.Command{
		Use: "passwd", Short: "Set a user's password (read from stdin) and log them out everywhere", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !passwordStdin {
				return fmt.Errorf("--password-stdin is required: pipe the password in, it is never taken from a flag")
			}
			pw, err := readSecretLine(stdio.In, "password")
			if err != nil {
				return err
			}
			return withAdmin(cmd, env, stdio, schemaHCL, func(ctx context.Context, a *adminServices) error {
				u, err := a.users.FindByEmail(ctx, a.actor.Principal, email)
				if err != nil {
					return fmt.Errorf("find user %s: %w", email, err)
				}
				if _, err := a.users.SetPassword(ctx, a.actor, u.ID, pw); err != nil {
					return err
				}
				fmt.Fprintf(stdio.Out, "password of %s changed; their tokens are revoked\n", u.Email)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&email, "email", "", "the user's email (required)")
	cmd.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read the password from stdin (required)")
	_ = cmd.MarkFlagRequired("email")
	return cmd
}

func userListCommand(stdio IO, env func() (Config, error), schemaHCL []byte) *cobra.Command {
	var tenant string
	var asJSON bool
	cmd := &cobra.Command{
		Use: "list", Short: "List users, optionally of one tenant", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withAdmin(cmd, env, stdio, schemaHCL, func(ctx context.Context, a *adminServices) error {
				var all []domain.User
				for off := 0; ; off += 100 {
					us, err := a.users.List(ctx, a.actor.Principal, domain.TenantID(tenant), domain.Page{Limit: 100, Offset: off})
					if err != nil {
						return err
					}
					all = append(all, us...)
					if len(us) < 100 {
						break
					}
				}
				if asJSON {
					return writeJSON(stdio.Out, usersView(all))
				}
				w := tabwriter.NewWriter(stdio.Out, 0, 4, 2, ' ', 0)
				fmt.Fprintln(w, "ID\tEMAIL\tROLE\tTENANT\tDISABLED")
				for _, u := range all {
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%t\n", u.ID, u.Email, u.Role, orNone(string(u.TenantID)), u.Disabled)
				}
				return w.Flush()
			})
		},
	}
	cmd.Flags().StringVar(&tenant, "tenant", "", "only this tenant's users")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func usersView(us []domain.User) []any {
	out := make([]any, 0, len(us))
	for _, u := range us {
		out = append(out, httpapi.UserRepresentation(u))
	}
	return out
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
