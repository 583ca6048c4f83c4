package memory

import (
	"context"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

// changeLogSize bounds the in-memory change log; a follower that falls further behind
// hears ChangeAll.
const changeLogSize = 4096

// changeLog is the DB's change log: the stores record into it under the DB's mutex,
// as the SQL stores do in their transactions.
type changeLog struct {
	first   int64 // the sequence number of entries[0]
	entries []domain.Change
	wake    chan struct{} // closed and replaced at every record
}

// record appends a change; callers hold the DB's mutex.
func (db *DB) record(kind domain.ChangeKind, id string) {
	l := &db.changes
	l.entries = append(l.entries, domain.Change{Kind: kind, ID: id})
	if len(l.entries) > changeLogSize {
		drop := len(l.entries) - changeLogSize
		l.entries = append([]domain.Change{}, l.entries[drop:]...)
		l.first += int64(drop)
	}
	if l.wake != nil {
		close(l.wake)
		l.wake = nil
	}
}

// since returns the changes after sequence number next-1, the next number to read, and
// a channel closed at the next record; lost reports entries dropped unread. Callers hold
// the DB's mutex.
func (l *changeLog) since(next int64) (cs []domain.Change, head int64, lost bool, wake <-chan struct{}) {
	if l.wake == nil {
		l.wake = make(chan struct{})
	}
	head = l.first + int64(len(l.entries))
	if next < l.first {
		return nil, head, true, l.wake
	}
	return append([]domain.Change{}, l.entries[next-l.first:]...), head, false, l.wake
}

// Changes returns a feed that follows db's change log, as each process sharing a SQL
// database follows its changes table.
func (db *DB) Changes() ports.ChangeFeed { return changeFeed{db: db} }

type changeFeed struct{ db *DB }

// Listen implements ports.ChangeFeed.
func (f changeFeed) Listen(ctx context.Context, fn func(domain.Change)) error {
	f.db.mu.Lock()
	_, next, _, wake := f.db.changes.since(0)
	f.db.mu.Unlock()
	fn(domain.Change{Kind: domain.ChangeAll})
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-wake:
		}
		f.db.mu.Lock()
		var cs []domain.Change
		var lost bool
		cs, next, lost, wake = f.db.changes.since(next)
		f.db.mu.Unlock()
		if lost {
			fn(domain.Change{Kind: domain.ChangeAll})
		}
		for _, c := range cs {
			fn(c)
		}
	}
}
