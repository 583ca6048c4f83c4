package sqlstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5"
	"gorm.io/gorm"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

// changeChannel is the PostgreSQL notification channel of tenantry's ChangeFeed.
const changeChannel = "tenantry_changes"

// ChangeFeed is a ports.ChangeFeed on PostgreSQL LISTEN/NOTIFY. Publish sends
// pg_notify through the shared pool; Listen holds one connection of its own and
// reconnects when it is lost. Every feed has a random node id, carried in each
// notification, so that it skips its own.
type ChangeFeed struct {
	db      *gorm.DB
	conn    *pgx.ConnConfig
	node    string
	onError func(error)
}

var _ ports.ChangeFeed = (*ChangeFeed)(nil)

// changeMessage is a notification's payload.
type changeMessage struct {
	Node string            `json:"n"`
	Kind domain.ChangeKind `json:"k"`
	ID   string            `json:"id,omitempty"`
}

// NewChangeFeed builds the feed of the PostgreSQL database c names; db is its pool
// (from Open). onError, which may be nil, hears why Listen lost or could not get its
// connection before it retries.
func NewChangeFeed(db *gorm.DB, c Config, onError func(error)) (*ChangeFeed, error) {
	pc, err := pgConfig(c)
	if err != nil {
		return nil, err
	}
	var id [8]byte
	_, _ = rand.Read(id[:]) // crypto/rand.Read never fails on supported platforms.
	if onError == nil {
		onError = func(error) {}
	}
	return &ChangeFeed{db: db, conn: pc, node: hex.EncodeToString(id[:]), onError: onError}, nil
}

// Publish implements ports.ChangeFeed.
func (f *ChangeFeed) Publish(ctx context.Context, c domain.Change) error {
	payload, err := json.Marshal(changeMessage{Node: f.node, Kind: c.Kind, ID: c.ID})
	if err != nil {
		return domain.E(domain.KindInternal, "internal", "", err)
	}
	return translate(f.db.WithContext(ctx).Exec("SELECT pg_notify(?, ?)", changeChannel, string(payload)).Error, "publish change")
}

// Listen implements ports.ChangeFeed. A lost connection is retried after a pause that
// doubles up to 10 s, and starts again at 100 ms after a connection that worked.
func (f *ChangeFeed) Listen(ctx context.Context, fn func(domain.Change)) error {
	const first, most = 100 * time.Millisecond, 10 * time.Second
	pause := first
	for {
		listened, err := f.listenOnce(ctx, fn)
		if ctx.Err() != nil {
			return nil
		}
		f.onError(err)
		if listened {
			pause = first
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		pause = min(2*pause, most)
	}
}

// listenOnce listens on one connection until it fails or ctx ends; listened says
// whether LISTEN took effect.
func (f *ChangeFeed) listenOnce(ctx context.Context, fn func(domain.Change)) (listened bool, err error) {
	conn, err := pgx.ConnectConfig(ctx, f.conn)
	if err != nil {
		return false, err
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = conn.Close(closeCtx)
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+changeChannel); err != nil {
		return false, err
	}
	fn(domain.Change{Kind: domain.ChangeAll}) // what changed before LISTEN is unknown
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return true, err
		}
		var m changeMessage
		if json.Unmarshal([]byte(n.Payload), &m) != nil || !m.Kind.Known() {
			m = changeMessage{Kind: domain.ChangeAll}
		}
		if m.Node == f.node {
			continue
		}
		fn(domain.Change{Kind: m.Kind, ID: m.ID})
	}
}
