package domain

import (
	"math"
	"time"
)

// SigningKey is an asymmetric key that signs access tokens. Private holds the private
// key sealed (encrypted) by the key's owner; Public holds the public JWK as JSON.
type SigningKey struct {
	KID       string
	Algorithm string
	Private   []byte
	Public    []byte
	CreatedAt time.Time
	// RetiredAt is set when a newer key took over; the key keeps verifying until
	// RetiredAt plus the access-token lifetime.
	RetiredAt *time.Time
}

// Active reports whether the key still signs new tokens.
func (k SigningKey) Active() bool { return k.RetiredAt == nil }

// Verifies reports whether tokens signed by k may still be valid at now, given the
// longest access-token lifetime.
func (k SigningKey) Verifies(now time.Time, tokenTTL time.Duration) bool {
	return k.RetiredAt == nil || now.Before(k.RetiredAt.Add(tokenTTL))
}

// RefreshToken is the stored form of an opaque refresh token: only its hash is kept.
// Tokens issued from one login form a family; reusing a rotated token revokes it all.
type RefreshToken struct {
	Hash      string
	FamilyID  string
	UserID    UserID
	TenantID  TenantID
	ExpiresAt time.Time
	CreatedAt time.Time
	UsedAt    *time.Time
	RevokedAt *time.Time
}

// Usable reports whether the token may be exchanged at now.
func (r RefreshToken) Usable(now time.Time) error {
	if r.RevokedAt != nil || r.UsedAt != nil || !now.Before(r.ExpiresAt) {
		return ErrInvalidRefreshToken
	}
	return nil
}

// AuditEntry records one administrative write. Changed lists field names, never values.
type AuditEntry struct {
	ID        string
	Actor     string
	TenantID  TenantID
	Action    string
	Target    string
	Changed   []string
	RequestID string
	At        time.Time
}

// UsageRecord counts what one chat or ingestion consumed.
type UsageRecord struct {
	TenantID         TenantID
	UserID           UserID
	Model            string
	PromptTokens     int
	CompletionTokens int
	ReadUnits        int
	// Estimated marks tokens counted by tenantry (domain.EstimateTokens) because the
	// vendor reported none: a stream that ended early, or a vendor that sends no usage.
	Estimated bool
	At        time.Time
}

// UsageTotals are a tenant's sums over a period.
type UsageTotals struct {
	TenantID         TenantID
	PeriodStart      time.Time
	PromptTokens     int64
	CompletionTokens int64
	ReadUnits        int64
	Requests         int64
	// EstimatedTokens is the part of the tokens that records marked Estimated hold.
	EstimatedTokens int64
}

// Tokens is prompt plus completion tokens.
func (u UsageTotals) Tokens() int64 { return u.PromptTokens + u.CompletionTokens }

// Add counts record r in the totals.
func (u *UsageTotals) Add(r UsageRecord) {
	u.PromptTokens += int64(r.PromptTokens)
	u.CompletionTokens += int64(r.CompletionTokens)
	u.ReadUnits += int64(r.ReadUnits)
	u.Requests++
	if r.Estimated {
		u.EstimatedTokens += int64(r.PromptTokens + r.CompletionTokens)
	}
}

// MonthStart returns the first instant of now's month in UTC, the quota period.
func MonthStart(now time.Time) time.Time {
	n := now.UTC()
	return time.Date(n.Year(), n.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// QuotaLeft returns how many tokens the tenant may still use this period, or -1 when
// unlimited.
func (t Tenant) QuotaLeft(used UsageTotals) int64 {
	if t.Limits.MonthlyTokenQuota == 0 {
		return -1
	}
	left := t.Limits.MonthlyTokenQuota - used.Tokens()
	if left < 0 {
		return 0
	}
	return left
}

// CheckQuota fails with ErrQuotaExceeded when the period's quota is used up, telling
// the client to retry when the next calendar month (UTC) begins.
func (t Tenant) CheckQuota(used UsageTotals, now time.Time) error {
	if t.QuotaLeft(used) == 0 {
		next := MonthStart(now).AddDate(0, 1, 0)
		return ErrQuotaExceeded.WithRetryAfter(int(math.Ceil(next.Sub(now).Seconds())))
	}
	return nil
}

// Login slow-down: the answer to a failed login is held longer as the account's recent
// failures (from any address) grow, so guessing one account is slow from anywhere.
const (
	// LoginFreeFailures are the failures answered at once.
	LoginFreeFailures = 3
	// LoginFirstDelay is the hold after the first failure beyond the free ones; each
	// further failure doubles it, up to the maximum given to LoginDelay.
	LoginFirstDelay = time.Second
)

// LoginDelay is how long the answer to an account's failed login is held after
// failures recent failures of that account, this one included: nothing for the first
// LoginFreeFailures, then LoginFirstDelay doubling per failure, never above most. Only
// failures are held, so the owner's right password is answered at once, whatever
// others have tried.
func LoginDelay(failures int, most time.Duration) time.Duration {
	n := failures - LoginFreeFailures - 1
	if n < 0 || most <= 0 {
		return 0
	}
	d := LoginFirstDelay << min(n, 16)
	return min(d, most)
}
