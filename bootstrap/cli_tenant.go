package bootstrap

import (
	"context"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/tenantry/tenantry/adapters/httpapi"
	"github.com/tenantry/tenantry/domain"
)

func tenantCommand(stdio IO, env func() (Config, error), schemaHCL []byte) *cobra.Command {
	cmd := &cobra.Command{Use: "tenant", Short: "Manage tenants (create, list, show, update, suspend, activate, delete, reindex)"}
	var id, name string
	create := &cobra.Command{
		Use: "create", Short: "Create a tenant with offline defaults (embedded vectors, hashing embedder, extractive answers)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withAdmin(cmd, env, stdio, schemaHCL, func(ctx context.Context, a *adminServices) error {
				t, err := a.tenants.Create(ctx, a.actor, id, name)
				if err != nil {
					return err
				}
				fmt.Fprintf(stdio.Out, "created tenant %s (%s)\n", t.ID, t.Name)
				return nil
			})
		},
	}
	create.Flags().StringVar(&id, "id", "", "tenant id: 3-63 characters of a-z, 0-9 and '-' (required)")
	create.Flags().StringVar(&name, "name", "", "display name (required)")
	_ = create.MarkFlagRequired("id")
	_ = create.MarkFlagRequired("name")

	cmd.AddCommand(create, tenantListCommand(stdio, env, schemaHCL),
		tenantByIDCommand(stdio, env, schemaHCL, "show", "Show a tenant's configuration (secrets masked)", nil),
		tenantUpdateCommand(stdio, env, schemaHCL),
		tenantByIDCommand(stdio, env, schemaHCL, "suspend", "Suspend a tenant: its users can no longer chat", statusPtr(domain.TenantSuspended)),
		tenantByIDCommand(stdio, env, schemaHCL, "activate", "Reactivate a suspended tenant", statusPtr(domain.TenantActive)),
		tenantDeleteCommand(stdio, env, schemaHCL),
		tenantReindexCommand(stdio, env, schemaHCL),
	)
	return cmd
}

func statusPtr(s domain.TenantStatus) *domain.TenantStatus { return &s }

// tenantID takes the id from --id or the single positional argument.
func tenantID(cmd *cobra.Command, args []string) (domain.TenantID, error) {
	flag, _ := cmd.Flags().GetString("id")
	switch {
	case flag != "" && len(args) == 0:
		return domain.ParseTenantID(flag)
	case flag == "" && len(args) == 1:
		return domain.ParseTenantID(args[0])
	}
	return "", fmt.Errorf("name the tenant with --id ID or as the one argument")
}

func tenantByIDCommand(stdio IO, env func() (Config, error), schemaHCL []byte, use, short string, status *domain.TenantStatus) *cobra.Command {
	cmd := &cobra.Command{
		Use: use + " [ID]", Short: short, Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := tenantID(cmd, args)
			if err != nil {
				return err
			}
			return withAdmin(cmd, env, stdio, schemaHCL, func(ctx context.Context, a *adminServices) error {
				var t domain.Tenant
				if status != nil {
					t, err = a.tenants.SetStatus(ctx, a.actor, id, *status)
				} else {
					t, err = a.tenants.Get(ctx, a.actor.Principal, id)
				}
				if err != nil {
					return err
				}
				return writeJSON(stdio.Out, httpapi.TenantRepresentation(t))
			})
		},
	}
	cmd.Flags().String("id", "", "the tenant id")
	return cmd
}

func tenantListCommand(stdio IO, env func() (Config, error), schemaHCL []byte) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use: "list", Short: "List tenants", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withAdmin(cmd, env, stdio, schemaHCL, func(ctx context.Context, a *adminServices) error {
				var all []domain.Tenant
				for off := 0; ; off += 100 {
					ts, err := a.tenants.List(ctx, a.actor.Principal, domain.Page{Limit: 100, Offset: off})
					if err != nil {
						return err
					}
					all = append(all, ts...)
					if len(ts) < 100 {
						break
					}
				}
				if asJSON {
					views := make([]any, 0, len(all))
					for _, t := range all {
						views = append(views, httpapi.TenantRepresentation(t))
					}
					return writeJSON(stdio.Out, views)
				}
				w := tabwriter.NewWriter(stdio.Out, 0, 4, 2, ' ', 0)
				fmt.Fprintln(w, "ID\tNAME\tSTATUS\tVECTORS\tEMBEDDER\tLLM")
				for _, t := range all {
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s/%s\n", t.ID, t.Name, t.Status, t.VectorStore.Provider, t.Embedder.Provider, t.LLM.Provider, t.LLM.Model)
				}
				return w.Flush()
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func tenantDeleteCommand(stdio IO, env func() (Config, error), schemaHCL []byte) *cobra.Command {
	cmd := &cobra.Command{
		Use: "delete [ID]", Short: "Delete a suspended tenant with its documents, vectors and conversations; its users lose access", Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := tenantID(cmd, args)
			if err != nil {
				return err
			}
			return withAdmin(cmd, env, stdio, schemaHCL, func(ctx context.Context, a *adminServices) error {
				if err := a.tenants.Delete(ctx, a.actor, id); err != nil {
					return err
				}
				fmt.Fprintf(stdio.Out, "deleted tenant %s\n", id)
				return nil
			})
		},
	}
	cmd.Flags().String("id", "", "the tenant id")
	return cmd
}

func tenantUpdateCommand(stdio IO, env func() (Config, error), schemaHCL []byte) *cobra.Command {
	cmd := &cobra.Command{
		Use: "update [ID]", Short: "Change a tenant's settings; API keys come from stdin, a file or an environment variable", Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := tenantID(cmd, args)
			if err != nil {
				return err
			}
			p, err := tenantPatchFromFlags(cmd.Flags(), stdio)
			if err != nil {
				return err
			}
			if len(p.Fields()) == 0 {
				return fmt.Errorf("nothing to change: give at least one setting flag (see --help)")
			}
			return withAdmin(cmd, env, stdio, schemaHCL, func(ctx context.Context, a *adminServices) error {
				t, err := a.tenants.Update(ctx, a.actor, id, p)
				if err != nil {
					return err
				}
				return writeJSON(stdio.Out, httpapi.TenantRepresentation(t))
			})
		},
	}
	f := cmd.Flags()
	f.String("id", "", "the tenant id")
	f.String("name", "", "display name")
	f.String("system-prompt", "", "the system prompt")
	f.Int("top-k", 0, "passages retrieved per question (1-50)")
	f.Float64("min-score", 0, "minimum cosine similarity of a passage found by vectors (-1..1)")
	f.String("retrieval-mode", "", "retrieval mode: lexical (BM25), dense (vectors), hybrid (both fused) or auto")
	f.String("vector-provider", "", "embedded or pinecone")
	f.String("pinecone-index-host", "", "the Pinecone index host URL")
	f.String("pinecone-namespace", "", "the Pinecone namespace (default: the tenant id)")
	f.Bool("pinecone-api-key-stdin", false, "read the Pinecone API key from stdin")
	f.String("pinecone-api-key-file", "", "read the Pinecone API key from this file")
	f.String("pinecone-api-key-env", "", "read the Pinecone API key from this environment variable")
	f.String("embedder", "", "hashing, openai or pinecone")
	f.String("embedder-model", "", "the embedding model")
	f.Int("embedder-dimensions", 0, "embedding dimensions")
	f.Bool("embedder-send-dimensions", true, "send the dimensions to the embedding model (=false for models without Matryoshka training, e.g. bge-m3 on vLLM)")
	f.Bool("embedder-api-key-stdin", false, "read the embedder API key from stdin")
	f.String("embedder-api-key-file", "", "read the embedder API key from this file")
	f.String("embedder-api-key-env", "", "read the embedder API key from this environment variable")
	f.String("llm-provider", "", "extractive or openai")
	f.String("llm-base-url", "", "OpenAI-compatible base URL (https://, or http:// with TENANTRY_ALLOW_HTTP_VENDORS=true)")
	f.String("llm-model", "", "the chat model")
	f.Float64("llm-temperature", 0, "sampling temperature (0-2)")
	f.Bool("llm-no-temperature", false, "send no temperature (reasoning models accept only their default)")
	f.Int("llm-max-tokens", 0, "maximum answer tokens (0: send no limit)")
	f.String("llm-max-tokens-param", "", "auto, max_tokens or max_completion_tokens (auto: max_completion_tokens for OpenAI and Azure)")
	f.Bool("llm-api-key-stdin", false, "read the LLM API key from stdin")
	f.String("llm-api-key-file", "", "read the LLM API key from this file")
	f.String("llm-api-key-env", "", "read the LLM API key from this environment variable")
	f.Int("requests-per-minute", 0, "chat and ingestion requests per minute (0: unlimited)")
	f.Int64("monthly-token-quota", 0, "tokens per calendar month (0: unlimited)")
	f.Int("max-concurrent-streams", 0, "open chat streams at once (0: unlimited)")
	return cmd
}

func tenantPatchFromFlags(f *pflag.FlagSet, stdio IO) (domain.TenantPatch, error) {
	var p domain.TenantPatch
	str := func(name string, dst **string) {
		if f.Changed(name) {
			v, _ := f.GetString(name)
			*dst = &v
		}
	}
	integer := func(name string, dst **int) {
		if f.Changed(name) {
			v, _ := f.GetInt(name)
			*dst = &v
		}
	}
	float := func(name string, dst **float64) {
		if f.Changed(name) {
			v, _ := f.GetFloat64(name)
			*dst = &v
		}
	}
	str("name", &p.Name)
	str("system-prompt", &p.SystemPrompt)
	integer("top-k", &p.TopK)
	float("min-score", &p.MinScore)
	str("retrieval-mode", &p.Mode)
	str("vector-provider", &p.VectorProvider)
	str("pinecone-index-host", &p.IndexHost)
	str("pinecone-namespace", &p.Namespace)
	str("embedder", &p.EmbedderName)
	str("embedder-model", &p.EmbedderModel)
	integer("embedder-dimensions", &p.EmbedderDims)
	if f.Changed("embedder-send-dimensions") {
		v, _ := f.GetBool("embedder-send-dimensions")
		p.EmbedderSendDims = &v
	}
	str("llm-provider", &p.LLMProvider)
	str("llm-base-url", &p.LLMBaseURL)
	str("llm-model", &p.LLMModel)
	float("llm-temperature", &p.LLMTemperature)
	p.LLMTemperatureUnset, _ = f.GetBool("llm-no-temperature")
	integer("llm-max-tokens", &p.LLMMaxTokens)
	str("llm-max-tokens-param", &p.LLMMaxTokensParam)
	integer("requests-per-minute", &p.RequestsPerMin)
	integer("max-concurrent-streams", &p.MaxStreams)
	if f.Changed("monthly-token-quota") {
		v, _ := f.GetInt64("monthly-token-quota")
		p.MonthlyQuota = &v
	}
	keys := map[string]**domain.Secret{"pinecone": &p.VectorAPIKey, "embedder": &p.EmbedderAPIKey, "llm": &p.LLMAPIKey}
	var fromStdin []string
	for vendor, dst := range keys {
		var sources []string
		for _, src := range []string{"stdin", "file", "env"} {
			if f.Changed(vendor + "-api-key-" + src) {
				sources = append(sources, src)
			}
		}
		if len(sources) > 1 {
			return p, fmt.Errorf("give the %s API key one way: --%s-api-key-stdin, --%s-api-key-file or --%s-api-key-env", vendor, vendor, vendor, vendor)
		}
		if len(sources) == 0 {
			continue
		}
		switch sources[0] {
		case "stdin":
			if v, _ := f.GetBool(vendor + "-api-key-stdin"); v {
				fromStdin = append(fromStdin, vendor)
			}
		case "file":
			path, _ := f.GetString(vendor + "-api-key-file")
			b, err := os.ReadFile(path)
			if err != nil {
				return p, fmt.Errorf("--%s-api-key-file: %w", vendor, err)
			}
			key := strings.TrimSpace(string(b))
			if key == "" {
				return p, fmt.Errorf("--%s-api-key-file: %s is empty", vendor, path)
			}
			s := domain.Secret(key)
			*dst = &s
		case "env":
			name, _ := f.GetString(vendor + "-api-key-env")
			key := strings.TrimSpace(stdio.Getenv(name))
			if key == "" {
				return p, fmt.Errorf("--%s-api-key-env: the environment variable %s is unset or empty", vendor, name)
			}
			s := domain.Secret(key)
			*dst = &s
		}
	}
	if len(fromStdin) > 1 {
		return p, fmt.Errorf("give one --*-api-key-stdin flag per command: stdin holds one key (use --*-api-key-file or --*-api-key-env for the others)")
	}
	if len(fromStdin) == 1 {
		key, err := readSecretLine(stdio.In, "API key")
		if err != nil {
			return p, err
		}
		s := domain.Secret(key)
		*keys[fromStdin[0]] = &s
	}
	return p, nil
}
