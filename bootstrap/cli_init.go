package bootstrap

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tenantry/tenantry/application"
	"github.com/tenantry/tenantry/domain"
)

// initCommand creates the first platform admin: the first-run path on PostgreSQL, where
// no demo tenant is seeded.
func initCommand(stdio IO, env func() (Config, error), schemaHCL []byte) *cobra.Command {
	var email, passwordFile, passwordEnv string
	var passwordStdin, force bool
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Apply the schema and create the first platform admin",
		Long: `Apply the declared schema (as 'tenantry migrate' does) and create the first platform admin,
then print how to log in. The password comes from stdin, a file or an environment variable,
never from a flag. It refuses when a platform admin exists already, unless --force.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pw, err := initPassword(stdio, passwordStdin, passwordFile, passwordEnv)
			if err != nil {
				return err
			}
			cfg, err := env()
			if err != nil {
				return err
			}
			rt, err := openRuntime(cmd.Context(), cfg, stdio, schemaHCL, true)
			if err != nil {
				return err
			}
			defer rt.Close()
			a := rt.admin()
			if !force {
				if existing, err := firstPlatformAdmin(cmd.Context(), a); err != nil {
					return err
				} else if existing != "" {
					return fmt.Errorf("a platform admin exists already (%s); create more with 'tenantry user create --role platform_admin', or pass --force", existing)
				}
			}
			u, err := a.users.Create(cmd.Context(), a.actor, application.NewUserInput{Email: email, Password: pw, Role: domain.RolePlatformAdmin})
			if err != nil {
				return err
			}
			fmt.Fprintf(stdio.Out, `created the platform admin %s.
Start the server with 'tenantry serve', then open %s/ and log in with that email and password,
or get a token:
  curl -s -X POST %s/auth/token --data-urlencode grant_type=password \
    --data-urlencode username=%s --data-urlencode "password=$PASSWORD"
`, u.Email, cfg.PublicURL, cfg.PublicURL, u.Email)
			return nil
		},
	}
	cmd.Flags().StringVar(&email, "email", "", "the platform admin's email (required)")
	cmd.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read the password from stdin")
	cmd.Flags().StringVar(&passwordFile, "password-file", "", "read the password from this file")
	cmd.Flags().StringVar(&passwordEnv, "password-env", "", "read the password from this environment variable")
	cmd.Flags().BoolVar(&force, "force", false, "create the admin even when a platform admin exists")
	_ = cmd.MarkFlagRequired("email")
	return cmd
}

// initPassword reads the password from the one source given.
func initPassword(stdio IO, fromStdin bool, file, envName string) (string, error) {
	n := 0
	for _, given := range []bool{fromStdin, file != "", envName != ""} {
		if given {
			n++
		}
	}
	if n != 1 {
		return "", fmt.Errorf("give the password one way: --password-stdin, --password-file or --password-env (never a flag value)")
	}
	switch {
	case fromStdin:
		return readSecretLine(stdio.In, "password")
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("--password-file: %w", err)
		}
		pw := strings.TrimRight(string(b), "\r\n")
		if pw == "" {
			return "", fmt.Errorf("--password-file: %s is empty", file)
		}
		return pw, nil
	default:
		pw := stdio.Getenv(envName)
		if pw == "" {
			return "", fmt.Errorf("--password-env: the environment variable %s is unset or empty", envName)
		}
		return pw, nil
	}
}

// firstPlatformAdmin returns the email of a platform admin, or "" when there is none.
func firstPlatformAdmin(ctx context.Context, a *adminServices) (string, error) {
	for off := 0; ; off += 100 {
		us, err := a.users.List(ctx, a.actor.Principal, "", domain.Page{Limit: 100, Offset: off})
		if err != nil {
			return "", err
		}
		for _, u := range us {
			if u.Role == domain.RolePlatformAdmin {
				return string(u.Email), nil
			}
		}
		if len(us) < 100 {
			return "", nil
		}
	}
}
