// Package testkit holds the scaffolding that accord's tests share: the
// standard HR source of a test config, a clock a test can move from day
// to day, loggers, and a way to run an engine until its work is done.
//
// It is a normal package so that tests in many packages can import it,
// but only tests may: nothing outside _test.go files should depend on it.
package testkit
