package postgres

import (
	"fmt"
	"strings"
	"testing"

	"github.com/exportd/exportd/internal/testsupport"
)

func TestTLSSettingsFromTheDSN(t *testing.T) {
	pg := testsupport.StartPostgresWith(t, testsupport.PostgresOptions{TLS: true})
	db := pg.NewDatabase(t)
	pg.Exec(t, db.Name, `SET ROLE `+db.User+`; CREATE SCHEMA acct_t; CREATE TABLE acct_t.t AS SELECT 1 AS x;`)
	withTLS := func(params string) string { return strings.Replace(db.DSN, "sslmode=disable", params, 1) }
	for _, tc := range []struct {
		name, dsn, kind string
	}{
		{"verify-full with the CA", withTLS("sslmode=verify-full&sslrootcert=" + pg.CAFile), ""},
		{"verify-full, system CAs", withTLS("sslmode=verify-full"), "configuration"},
		{"require", withTLS("sslmode=require"), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSource(t, fmt.Sprintf("dsn = %q\nschema = \"acct_t\"\ntables = [\"t\"]\n", tc.dsn))
			snap, err := s.Open(testContext(t), sourceRequest(ev("t")))
			if tc.kind == "" {
				if err != nil {
					t.Fatal(err)
				}
				snap.Close()
				return
			}
			if err == nil {
				snap.Close()
				t.Fatal("Open succeeded")
			}
			if k := kindOf(err); k != tc.kind {
				t.Errorf("kind %s, want %s: %v", k, tc.kind, err)
			}
			if strings.Contains(err.Error(), db.Password) {
				t.Errorf("password in %v", err)
			}
		})
	}
	t.Run("CA file missing", func(t *testing.T) {
		body := fmt.Sprintf("dsn = %q\nschema = \"acct_t\"\n", withTLS("sslmode=verify-full&sslrootcert="+pg.CAFile+".missing"))
		_, diags := New(parseBody(t, body), testEnv())
		if !diags.HasErrors() || !strings.Contains(diags.Error(), "unable to read CA file") || strings.Contains(diags.Error(), db.Password) {
			t.Errorf("diagnostics %v, want the CA file named and no password", diags)
		}
	})
}
