package sqlstore

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"gorm.io/gorm"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

// changeChannel is the PostgreSQL notification channel that wakes the followers of
// the change log; the notifications carry nothing, the changes table is the truth.
const changeChannel = "tenantry_changes"

// changeLock is the key of the transaction-level advisory lock a PostgreSQL writer
// takes before adding to the change log, so that log ids follow commit order ("changes"
// as bytes).
const changeLock = 0x6368616e676573

// ChangeRetention is how long entries stay in the change log; Prune removes older ones.
// A follower that read nothing for half of it treats the gap as missed changes.
const ChangeRetention = time.Hour

type changeRow struct {
	ID      int64     `gorm:"column:id;primaryKey;autoIncrement"`
	Kind    string    `gorm:"column:kind"`
	Subject string    `gorm:"column:subject"`
	At      time.Time `gorm:"column:at"`
	Origin  string    `gorm:"column:origin"`
}

func (changeRow) TableName() string { return "changes" }

// recordChanges adds cs to the change log inside the transaction tx. Call it last in
// the transaction: on PostgreSQL it takes the log's advisory lock, held until commit,
// and queues the wake-up notification, which PostgreSQL delivers at commit.
func recordChanges(tx *gorm.DB, cs ...domain.Change) error {
	if len(cs) == 0 {
		return nil
	}
	pg := tx.Name() == "postgres"
	if pg {
		if err := tx.Exec("SELECT pg_advisory_xact_lock(?)", int64(changeLock)).Error; err != nil {
			return err
		}
	}
	now, origin := dbTime(time.Now()), originOf(tx)
	rows := make([]changeRow, 0, len(cs))
	for _, c := range cs {
		rows = append(rows, changeRow{Kind: string(c.Kind), Subject: c.ID, At: now, Origin: origin})
	}
	if err := tx.Create(&rows).Error; err != nil {
		return err
	}
	if pg {
		return tx.Exec("SELECT pg_notify(?, '')", changeChannel).Error
	}
	return nil
}

// ChangeFeed is a ports.ChangeFeed on the changes table. On PostgreSQL it holds one
// connection of its own that LISTENs for the writers' wake-up notifications and
// reconnects when it is lost; on SQLite it polls every PollInterval.
type ChangeFeed struct {
	db      *gorm.DB
	conn    *pgx.ConnConfig // nil on SQLite
	onError func(error)
}

var _ ports.ChangeFeed = (*ChangeFeed)(nil)

// PollInterval is how often a follower of the SQLite change log reads it.
const PollInterval = 200 * time.Millisecond

// NewChangeFeed builds the feed of the database c names; db is its pool (from Open).
// onError, which may be nil, hears why reading the log or listening failed before it
// retries.
func NewChangeFeed(db *gorm.DB, c Config, onError func(error)) (*ChangeFeed, error) {
	if onError == nil {
		onError = func(error) {}
	}
	f := &ChangeFeed{db: db, onError: onError}
	if c.URL != "" {
		pc, err := pgConfig(c)
		if err != nil {
			return nil, err
		}
		f.conn = pc
	}
	return f, nil
}

// follower is one Listen call's position in the log.
type follower struct {
	f        *ChangeFeed
	fn       func(domain.Change)
	last     int64
	lastRead time.Time
}

// Listen implements ports.ChangeFeed. Failures are retried after a pause that doubles
// up to 10 s.
func (f *ChangeFeed) Listen(ctx context.Context, fn func(domain.Change)) error {
	fl := &follower{f: f, fn: fn}
	retry := backoff()
	for {
		err := fl.start(ctx)
		if err == nil {
			break
		}
		if !f.failed(ctx, err, retry) {
			return nil
		}
	}
	if f.conn == nil {
		return fl.poll(ctx)
	}
	retry = backoff()
	for {
		listened, err := fl.listenOnce(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if listened {
			retry = backoff()
		}
		if !f.failed(ctx, err, retry) {
			return nil
		}
	}
}

// backoff returns successive pauses: 100 ms doubling up to 10 s.
func backoff() func() time.Duration {
	pause := 50 * time.Millisecond
	return func() time.Duration {
		pause = min(2*pause, 10*time.Second)
		return pause
	}
}

// failed reports err and waits the next pause; false means ctx ended.
func (f *ChangeFeed) failed(ctx context.Context, err error, pause func() time.Duration) bool {
	if ctx.Err() != nil {
		return false
	}
	f.onError(err)
	t := time.NewTimer(pause())
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// start places the follower at the log's head and says ChangeAll: what changed before
// is unknown.
func (fl *follower) start(ctx context.Context) error {
	var head int64
	if err := fl.f.db.WithContext(ctx).Raw("SELECT COALESCE(MAX(id), 0) FROM changes").Scan(&head).Error; err != nil {
		return translate(err, "read change log head")
	}
	fl.last, fl.lastRead = head, time.Now()
	fl.fn(domain.Change{Kind: domain.ChangeAll})
	return nil
}

// catchUp delivers every change after the last one delivered.
func (fl *follower) catchUp(ctx context.Context) error {
	if time.Since(fl.lastRead) > ChangeRetention/2 {
		// Entries after fl.last may have been pruned unread.
		return fl.start(ctx)
	}
	const batch = 500
	for {
		var rows []changeRow
		if err := fl.f.db.WithContext(ctx).Where("id > ?", fl.last).Order("id").Limit(batch).Find(&rows).Error; err != nil {
			return translate(err, "read change log")
		}
		fl.lastRead = time.Now()
		own := originOf(fl.f.db)
		for _, r := range rows {
			c := domain.Change{Kind: domain.ChangeKind(r.Kind), ID: r.Subject, Local: r.Origin != "" && r.Origin == own}
			if !c.Kind.Known() {
				c = domain.Change{Kind: domain.ChangeAll}
			}
			fl.fn(c)
			fl.last = r.ID
		}
		if len(rows) < batch {
			return nil
		}
	}
}

// poll reads the log every PollInterval until ctx ends (SQLite).
func (fl *follower) poll(ctx context.Context) error {
	t := time.NewTicker(PollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if err := fl.catchUp(ctx); err != nil && ctx.Err() == nil {
			fl.f.onError(err)
		}
	}
}

// listenOnce listens on one connection until it fails or ctx ends, reading the log
// once LISTEN is in place and after each notification; listened says whether LISTEN
// took effect.
func (fl *follower) listenOnce(ctx context.Context) (listened bool, err error) {
	conn, err := pgx.ConnectConfig(ctx, fl.f.conn)
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
	for {
		if err := fl.catchUp(ctx); err != nil {
			return true, err
		}
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return true, err
		}
	}
}

// Prune removes the log entries recorded before before, except the newest entry, which
// keeps the ids growing on SQLite. It returns how many it removed.
func (f *ChangeFeed) Prune(ctx context.Context, before time.Time) (int64, error) {
	res := f.db.WithContext(ctx).Exec("DELETE FROM changes WHERE at < ? AND id < (SELECT MAX(id) FROM changes)", dbTime(before))
	if res.Error != nil {
		return 0, translate(res.Error, "prune change log")
	}
	return res.RowsAffected, nil
}

// origin names the connection pool that Open built (in production, the process), in
// the changes it records: a random id (crypto/rand.Text).
type origin struct{ id string }

const originPlugin = "tenantry:origin"

// Name implements gorm.Plugin.
func (origin) Name() string { return originPlugin }

// Initialize implements gorm.Plugin; the plugin only carries the id.
func (origin) Initialize(*gorm.DB) error { return nil }

// originOf returns the origin id of db's pool; empty for a pool Open did not build.
func originOf(db *gorm.DB) string {
	o, _ := db.Config.Plugins[originPlugin].(origin)
	return o.id
}
