package bootstrap

import (
	"errors"
	"net"
	"testing"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// refusingPostgres listens like a PostgreSQL server that answers every login with the
// error a wrong password gets (SQLSTATE 28P01) and returns its address.
func refusingPostgres(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				be := pgproto3.NewBackend(conn, conn)
				for {
					msg, err := be.ReceiveStartupMessage()
					if err != nil {
						return
					}
					if _, ssl := msg.(*pgproto3.SSLRequest); ssl {
						if _, err := conn.Write([]byte("N")); err != nil {
							return
						}
						continue
					}
					break
				}
				be.Send(&pgproto3.ErrorResponse{Severity: "FATAL", Code: "28P01", Message: `password authentication failed for user "app"`})
				if err := be.Flush(); err != nil && !errors.Is(err, net.ErrClosed) {
					return
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// TestCLIWrongDatabasePasswordSaysSo: a wrong PostgreSQL password is a configuration
// mistake named as one, not an outage to wait out, and the password never shows.
func TestCLIWrongDatabasePasswordSaysSo(t *testing.T) {
	t.Parallel()
	e := newEnv(t).with("DATABASE_URL", "postgres://app:not-the-Password-42@"+refusingPostgres(t)+"/tenantry?sslmode=disable",
		"TENANTRY_SECRET_KEY", secretKey(t))
	for _, args := range [][]string{{"migrate"}, {"user", "list"}} {
		r := run(t, e, "", args...)
		assert.Equal(t, 1, r.code, "%v: %s", args, r)
		assert.Contains(t, r.err, "PostgreSQL refused the login: check the user, password and database name in DATABASE_URL")
		assert.Contains(t, r.err, "password authentication failed")
		assert.NotContains(t, r.err, "try again shortly")
		assert.NotContains(t, r.out+r.err, "not-the-Password-42")
	}
}
