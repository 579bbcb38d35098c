// Package testsupport holds test helpers that build exportd's binaries and
// start the real servers its tests run against (nats-server, moto,
// versitygw, PostgreSQL) on 127.0.0.1, each cleaning up after itself
// through t.Cleanup. Nothing here is used outside tests.
package testsupport
