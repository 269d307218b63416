package targetsim_test

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/accord-iam/accord/internal/targetsim"
)

// A test starts a simulator, seeds it, injects a fault and reads back what
// the client sent.
func Example() {
	clk := targetsim.NewManualClock(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	sim := targetsim.New(targetsim.Options{Token: "t", Now: clk.Now})
	base, err := sim.Start("127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer sim.Close()

	admins, _ := sim.SCIM().CreateGroup("admins")
	_, _ = sim.AddFault(targetsim.Rule{Kind: targetsim.FaultRateLimit, Method: "POST", Times: 1, RetryAfter: targetsim.Duration(2 * time.Second)})

	post := func() int {
		req, _ := http.NewRequest("POST", base+"/scim/v2/Users", strings.NewReader(`{"schemas":["`+targetsim.SchemaUser+`"],"userName":"alice"}`))
		req.Header.Set("Authorization", "Bearer t")
		req.Header.Set("Content-Type", "application/scim+json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			panic(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	fmt.Println(post()) // rate limited
	clk.Advance(2 * time.Second)
	fmt.Println(post()) // waited as told

	alice, _ := sim.SCIM().UserByName("ALICE")
	_ = sim.SCIM().AddMember(admins.ID, alice.ID)
	fmt.Println(len(sim.SCIM().Members(admins.ID)), len(sim.Violations()))
	for _, r := range sim.Requests() {
		fmt.Println(r.Method, r.Path, r.Status, r.Faults)
	}
	// Output:
	// 429
	// 201
	// 1 0
	// POST /scim/v2/Users 429 [rate_limit]
	// POST /scim/v2/Users 201 []
}
