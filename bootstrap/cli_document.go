package bootstrap

import (
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/tenantry/tenantry/domain"
)

func documentCommand(stdio IO, env func() (Config, error), schemaHCL []byte) *cobra.Command {
	cmd := &cobra.Command{Use: "document", Short: "List and delete a tenant's documents"}
	var tenant string
	inTenant := func(ctx context.Context, a *adminServices) (domain.TenantContext, error) {
		id, err := domain.ParseTenantID(tenant)
		if err != nil {
			return domain.TenantContext{}, err
		}
		t, err := a.tenants.Get(ctx, a.actor.Principal, id)
		if err != nil {
			return domain.TenantContext{}, err
		}
		return domain.TenantContext{Principal: a.actor.Principal, Tenant: t}, nil
	}
	list := &cobra.Command{
		Use: "list", Short: "List the tenant's newest 100 documents", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withAdmin(cmd, env, stdio, schemaHCL, func(ctx context.Context, a *adminServices) error {
				tc, err := inTenant(ctx, a)
				if err != nil {
					return err
				}
				docs, err := a.documents.List(ctx, tc, domain.Page{Limit: 100})
				if err != nil {
					return err
				}
				w := tabwriter.NewWriter(stdio.Out, 0, 4, 2, ' ', 0)
				_, _ = fmt.Fprintln(w, "ID\tTITLE\tCHUNKS")
				for _, d := range docs {
					_, _ = fmt.Fprintf(w, "%s\t%s\t%d\n", d.ID, d.Title, d.Chunks)
				}
				return w.Flush()
			})
		},
	}
	del := &cobra.Command{
		Use: "delete ID", Short: "Delete a document and its passages (running servers stop citing it at once)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withAdmin(cmd, env, stdio, schemaHCL, func(ctx context.Context, a *adminServices) error {
				tc, err := inTenant(ctx, a)
				if err != nil {
					return err
				}
				if err := a.documents.Delete(ctx, tc, domain.DocumentID(args[0])); err != nil {
					return err
				}
				_, err = fmt.Fprintf(stdio.Out, "deleted document %s of tenant %s\n", args[0], tc.Tenant.ID)
				return err
			})
		},
	}
	for _, c := range []*cobra.Command{list, del} {
		c.Flags().StringVar(&tenant, "tenant", "", "the tenant's id")
		_ = c.MarkFlagRequired("tenant")
		cmd.AddCommand(c)
	}
	return cmd
}
