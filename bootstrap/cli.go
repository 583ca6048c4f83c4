package bootstrap

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tenantry/tenantry/domain"
)

func newRootCommand(stdio IO, schemaHCL []byte) *cobra.Command {
	root := &cobra.Command{
		Use:   "tenantry",
		Short: "tenantry is a multi-tenant RAG chat backend",
		Long: `tenantry serves many tenants from one backend: users log in at POST /auth/token and get a
JWT carrying their tenant_id; every request then runs with that tenant's own system prompt,
vector store and model, streamed over server-sent events at POST /chat/stream.

Configuration comes from environment variables (see README.md). Without DATABASE_URL (or
DATABASE_PUBLIC_URL) tenantry uses an embedded SQLite database in $TENANTRY_DATA_DIR.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       versionLine(debug.ReadBuildInfo()),
	}
	root.SetVersionTemplate("{{.Version}}\n")
	env := func() (Config, error) { return LoadConfig(stdio.Getenv) }
	root.AddCommand(
		serveCommand(stdio, env, schemaHCL),
		initCommand(stdio, env, schemaHCL),
		migrateCommand(stdio, env, schemaHCL),
		userCommand(stdio, env, schemaHCL),
		tenantCommand(stdio, env, schemaHCL),
		documentCommand(stdio, env, schemaHCL),
		keysCommand(stdio, env, schemaHCL),
		secretsCommand(stdio, env, schemaHCL),
		apikeyCommand(stdio, env, schemaHCL),
	)
	refuseUnknownSubcommands(root)
	return root
}

func serveCommand(stdio IO, env func() (Config, error), schemaHCL []byte) *cobra.Command {
	var migrateFirst bool
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the HTTP API",
		Long: `Run the HTTP API on $PORT until SIGINT or SIGTERM, then drain open streams for up to
$TENANTRY_SHUTDOWN_TIMEOUT. On the embedded SQLite default the schema is applied
automatically; with PostgreSQL serve refuses to start on a schema that differs from the
declared one unless --migrate is given (or run 'tenantry migrate' first).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := env()
			if err != nil {
				return err
			}
			return serve(cmd.Context(), cfg, stdio, schemaHCL, migrateFirst)
		},
	}
	cmd.Flags().BoolVar(&migrateFirst, "migrate", false, "apply the declared schema before serving (PostgreSQL)")
	return cmd
}

func migrateCommand(stdio IO, env func() (Config, error), schemaHCL []byte) *cobra.Command {
	var dryRun, allowDestructive bool
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply the declared schema (schema.hcl) to the database",
		Long: `Compare the live database with the schema embedded in this binary and apply the
difference in one transaction. Changes that drop tables, columns or indexes are refused
unless --allow-destructive is given. A second run reports no changes.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := env()
			if err != nil {
				return err
			}
			return runMigrate(cmd.Context(), cfg, stdio, schemaHCL, dryRun, allowDestructive)
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print the SQL plan and change nothing")
	cmd.Flags().BoolVar(&allowDestructive, "allow-destructive", false, "allow dropping tables, columns and indexes")
	return cmd
}

// refuseUnknownSubcommands makes every command group (user, tenant, …) fail with
// exit code 1 on a missing or unknown subcommand; cobra would print the help and exit 0,
// so a typo in a script would pass for success.
func refuseUnknownSubcommands(c *cobra.Command) {
	for _, sub := range c.Commands() {
		refuseUnknownSubcommands(sub)
	}
	if !c.HasSubCommands() || c.Runnable() {
		return
	}
	c.Args = cobra.ArbitraryArgs
	c.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return fmt.Errorf("%s needs a subcommand; see '%s --help'", cmd.CommandPath(), cmd.CommandPath())
		}
		return fmt.Errorf("unknown command %q for %q; see '%s --help'", args[0], cmd.CommandPath(), cmd.CommandPath())
	}
}

// readSecretLine reads one line (a password or API key) from r without echoing it
// anywhere.
func readSecretLine(r io.Reader, what string) (string, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read %s from stdin: %w", what, err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", fmt.Errorf("read %s from stdin: nothing given", what)
	}
	return line, nil
}

// userMessage renders an error for the terminal: the client-safe detail, each invalid
// field, and the cause chain (operators may see causes; secrets never reach errors).
func userMessage(err error) string {
	e := domain.AsError(err)
	if e == nil {
		return err.Error()
	}
	var b strings.Builder
	b.WriteString(err.Error())
	for _, f := range e.Fields {
		fmt.Fprintf(&b, "\n  - %s: %s", f.Field, f.Message)
	}
	return b.String()
}
