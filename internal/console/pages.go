package console

import "net/http"

// corePages is the route table of the core console: overview, runs and
// failed actions. Other page sets add theirs in morePages.
func (c *Console) corePages() []Page {
	const (
		get  = http.MethodGet
		post = http.MethodPost
	)
	return []Page{
		{Method: get, Path: "/{$}", Nav: "Overview", Template: "overview", Handle: c.overview},
		{Method: post, Path: "/targets/{target}/resume", Handle: c.resumeTarget},

		{Method: get, Path: "/runs", Nav: "Runs", Template: "runs", Handle: c.listRuns},
		{Method: get, Path: "/runs/{id}", Template: "run", Handle: c.showRun},
		{Method: get, Path: "/runs/{id}/{decision}", Template: "confirm", Handle: c.confirmRun},
		{Method: post, Path: "/runs/{id}/{decision}", Handle: c.decideRun},

		{Method: get, Path: "/failed", Nav: "Failed actions", Template: "failed", Handle: c.listFailed},
		{Method: post, Path: "/failed/retry", Handle: c.retryFailed},
	}
}
