package bootstrap

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/tenantry/tenantry/application"
	"github.com/tenantry/tenantry/domain"
)

// The first-run demo: on the embedded default, a database with no tenants and no users
// gets a tenant, its admin and a few documents, so that a newcomer can log in to the
// console and ask a question at once. PostgreSQL deployments are never seeded.
const (
	demoTenantID   = "demo"
	demoTenantName = "Demo Company"
	demoAdminEmail = "admin@demo.local"
)

// demoServices are the use cases the first-run demo calls, as the operator.
type demoServices struct {
	tenants *application.ManageTenants
	users   *application.ManageUsers
	ingest  *application.IngestDocument
	actor   application.Actor
}

// seedDemo runs the first-run demo for serve; see firstRun.
func seedDemo(ctx context.Context, rt *runtime, out io.Writer) error {
	a := rt.admin()
	return firstRun(ctx, rt.cfg, demoServices{tenants: a.tenants, users: a.users, ingest: a.ingest, actor: a.actor}, out)
}

// firstRun seeds an empty embedded database with the demo tenant, a tenant_admin with
// a random password and the sample documents, and prints the credentials to out once.
// Anything already stored (a tenant or a user) means the database is in use and
// nothing happens; so does a PostgreSQL database. The password goes to out only, never
// to the logs. A failure removes the demo tenant again, so the next start retries.
func firstRun(ctx context.Context, cfg Config, s demoServices, out io.Writer) error {
	if !cfg.Embedded() {
		return nil
	}
	empty, err := databaseEmpty(ctx, s)
	if err != nil || !empty {
		return err
	}
	password, err := demoPassword()
	if err != nil {
		return err
	}
	t, err := s.tenants.Create(ctx, s.actor, demoTenantID, demoTenantName)
	if err != nil {
		return fmt.Errorf("first run: create the demo tenant: %w", err)
	}
	if err := seedDemoTenant(ctx, s, t, password); err != nil {
		return errors.Join(fmt.Errorf("first run: %w", err), removeDemoTenant(ctx, s))
	}
	_, err = fmt.Fprintf(out, `
tenantry first run: created the tenant %q with %d sample documents and its admin.
  Open %s/ and log in with
    email:    %s
    password: %s
  This password is shown only this once. Change it with
    tenantry user passwd --email %s --password-stdin

`, demoTenantID, len(demoDocuments), cfg.PublicURL, demoAdminEmail, password, demoAdminEmail)
	return err
}

// databaseEmpty reports whether no tenant and no user exist yet.
func databaseEmpty(ctx context.Context, s demoServices) (bool, error) {
	one := domain.Page{Limit: 1}
	ts, err := s.tenants.List(ctx, s.actor.Principal, one)
	if err != nil {
		return false, fmt.Errorf("first run: list tenants: %w", err)
	}
	us, err := s.users.List(ctx, s.actor.Principal, "", one)
	if err != nil {
		return false, fmt.Errorf("first run: list users: %w", err)
	}
	return len(ts) == 0 && len(us) == 0, nil
}

// seedDemoTenant adds the documents, then the admin: the user comes last because a
// user left behind by a failure would make the database look in use.
func seedDemoTenant(ctx context.Context, s demoServices, t domain.Tenant, password string) error {
	tc := domain.TenantContext{Principal: s.actor.Principal, Tenant: t}
	for _, d := range demoDocuments {
		_, err := s.ingest.Execute(ctx, application.IngestInput{
			Tenant: tc, Title: d.title, Text: d.text, ExternalID: d.externalID, Metadata: map[string]string{"source": "first-run demo"},
		})
		if err != nil {
			return fmt.Errorf("add the sample document %q: %w", d.title, err)
		}
	}
	_, err := s.users.Create(ctx, s.actor, application.NewUserInput{
		Email: demoAdminEmail, Password: password, Role: domain.RoleTenantAdmin, TenantID: t.ID,
	})
	if err != nil {
		return fmt.Errorf("create the demo admin: %w", err)
	}
	return nil
}

// removeDemoTenant undoes a half-seeded demo: a tenant is deleted once suspended, and
// its documents and vectors go with it. It runs detached, so a cancelled start still
// cleans up.
func removeDemoTenant(ctx context.Context, s demoServices) error {
	ctx = context.WithoutCancel(ctx)
	if _, err := s.tenants.SetStatus(ctx, s.actor, demoTenantID, domain.TenantSuspended); err != nil {
		return fmt.Errorf("first run: remove the demo tenant: %w", err)
	}
	if err := s.tenants.Delete(ctx, s.actor, demoTenantID); err != nil {
		return fmt.Errorf("first run: remove the demo tenant: %w", err)
	}
	return nil
}

// demoPassword returns 120 random bits as six groups of four lower-case base32
// characters, easy to read and to type.
func demoPassword() (string, error) {
	var b [15]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("first run: generate a password: %w", err)
	}
	s := strings.ToLower(base32.StdEncoding.EncodeToString(b[:]))
	groups := make([]string, 0, len(s)/4)
	for i := 0; i < len(s); i += 4 {
		groups = append(groups, s[i:i+4])
	}
	return strings.Join(groups, "-"), nil
}

type demoDocument struct {
	externalID, title, text string
}

// demoDocuments are the sample documents of the demo tenant, about an invented
// note-taking product.
var demoDocuments = []demoDocument{
	{externalID: "demo-product-faq", title: "Product FAQ", text: `# Harbor Notes: frequently asked questions

Harbor Notes is a note-taking app for small teams. Notes are written in Markdown, organised in shared notebooks and synchronised across the web, desktop and mobile apps.

## Which plans are there?
There are three plans. The Free plan includes up to 3 notebooks and 500 MB of storage for one person. The Team plan costs 8 euros per user per month and includes unlimited notebooks, 20 GB of storage per user and shared notebooks. The Business plan costs 15 euros per user per month and adds single sign-on, audit logs and priority support.

## Does Harbor Notes work offline?
Yes. The desktop and mobile apps keep a full copy of your notebooks on the device. Changes made offline are synchronised automatically the next time the device is online; if two people changed the same note, both versions are kept and the note is marked as a conflict.

## How do I export my notes?
Open Settings, then Export. You can export a single notebook or everything as a ZIP archive of Markdown files with their attachments. Exports are available on every plan, including Free.

## Is my data encrypted?
Notes are encrypted in transit with TLS and at rest with AES-256. Business customers can additionally choose the data region (EU or US) when the workspace is created.
`},
	{externalID: "demo-refund-policy", title: "Refund policy", text: `# Refund policy

We want you to be happy with Harbor Notes. If you are not, you can ask for your money back.

## Eligibility
You can request a full refund within 30 days of your first payment for a Team or Business subscription. After 30 days, payments are not refundable, but you can cancel at any time and keep access until the end of the period you paid for.

Annual subscriptions cancelled after the first 30 days are refunded pro rata for the full months that remain, minus a processing fee of 10 euros.

## What to send us
Write to billing@harbornotes.example from the email address of the workspace owner, and include the invoice number. Refunds are issued to the original payment method within 5 to 10 business days.

## Exceptions
Add-ons bought for a one-off event, such as extra storage for a single month, are not refundable. Accounts closed for breaking the terms of service do not receive a refund.
`},
	{externalID: "demo-onboarding-guide", title: "Onboarding guide", text: `# Onboarding guide for new team members

Welcome to Harbor Notes! This guide walks you through your first day.

## Day one
1. Accept the invitation email from your workspace owner and choose a password of at least 12 characters.
2. Install the desktop app from the Downloads page and sign in.
3. Join the "Team handbook" notebook, which every workspace has, and read the welcome note.

## Setting up your notebooks
Create one notebook per project and share it with the people who work on it. Use tags for topics that cross projects, such as "meeting" or "decision". Pin the notes you open every day so they stay at the top of the sidebar.

## Keyboard shortcuts
Press Ctrl+K (Cmd+K on a Mac) to search across all notebooks. Press Ctrl+N for a new note and Ctrl+Shift+P to pin or unpin the current note.

## Getting help
Questions about the app go to the #harbor-help channel. For account or billing problems, contact your workspace owner; they can reach support directly from the Settings page.
`},
}
