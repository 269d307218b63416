// Package targetsim is a small stateful fake SaaS for tests, demos and
// benchmarks: a SCIM 2.0 service (RFC 7643/7644) with fault injection and a
// request log, served on loopback.
//
// # Structure
//
// The simulator is made of surfaces (SCIM, a REST/session-cookie API, and
// an HR system's employee feed under /hr/v1 that pull sources read; see
// HR), each a set of routes on one mux. Every request
// to a surface passes one front: it is logged, checked against the
// Retry-After windows the simulator announced, and offered to the fault
// rules before the surface sees it. A request that a fault answers never
// reaches the surface, so it changes no state. A new surface implements
// mount and reset and is listed in New; it gets the front for free.
//
// # In Go tests
//
//	sim := targetsim.New(targetsim.Options{Token: "t", Now: clock.Now})
//	base, _ := sim.Start("127.0.0.1:0") // SCIM at base+"/scim/v2"
//	defer sim.Close()
//	u, _ := sim.SCIM().CreateUser("alice", map[string]any{"active": true})
//	sim.AddFault(targetsim.Rule{Kind: targetsim.FaultRateLimit, Times: 1, RetryAfter: targetsim.Duration(2 * time.Second)})
//	... run the client ...
//	sim.Requests()   // what was sent: method, path, query, headers, body, status, faults
//	sim.Violations() // requests that ignored a Retry-After
//
// Options.Quota makes the simulator a rate-limited API: so many requests
// per window, announced in every answer in one of the header styles real
// APIs use, 429 past it. An answer saying nothing is left opens a window
// like a Retry-After, so Violations also lists requests sent after it.
//
// # As a process
//
// Serve runs a simulator until its context ends and prints the base URL.
// The admin API, for loopback clients only and never logged or faulted:
//
//	POST   /_sim/faults          add a Rule (JSON), answers {"id": "r1"}
//	GET    /_sim/faults          the rules in force
//	DELETE /_sim/faults[/{id}]   remove all rules, or one
//	GET    /_sim/requests?since=N the request log after sequence number N
//	DELETE /_sim/requests        empty the log
//	GET    /_sim/violations      requests that came inside a Retry-After
//	GET    /_sim/stats           counts (requests, by status, faults, ...)
//	GET    /_sim/state           all users and groups (State)
//	POST   /_sim/state           load users and groups (State)
//	POST   /_sim/reset           back to the seed state; no rules, log or stats
//	POST   /_sim/hr/employees    add or replace HR employees (a JSON list of objects with "id")
//	DELETE /_sim/hr/employees/{id}  take one out of the HR feed
//	PUT    /_sim/hr/pages/{n}    make HR page n fail: {"status": 500}; DELETE clears it
//
// For example:
//
//	curl -XPOST $SIM/_sim/faults -d '{"kind":"fail","method":"POST","path":"/scim/v2/Users","times":2,"status":503}'
//	curl -XPOST $SIM/_sim/faults -d '{"kind":"rate_limit","for":"30s","retryAfter":"5s"}'
//	curl -XPOST $SIM/_sim/faults -d '{"kind":"down","refuse":true}'
//	curl -XPOST $SIM/_sim/faults -d '{"kind":"fail","fraction":0.2,"status":500}'
//
// # Deliberate choices
//
// Input is checked against the schemas that /Schemas advertises: a wrong
// type, an unknown core attribute or a member id that does not exist is a
// 400, as strict targets answer. The enterprise extension also accepts
// attributes it does not define. userName and group displayName are unique
// ignoring case (simple case folding). Deleting a user takes it out of its
// groups. attributes, excludedAttributes and sortBy are ignored. A PATCH
// that sets emails[type eq "work"].value where no work email exists creates
// it, as widely used clients expect.
package targetsim
