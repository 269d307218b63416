// Package quickstart embeds the quickstart example so that `accord
// quickstart` works from any directory, with nothing else installed.
package quickstart

import (
	"embed"
	"fmt"
	"regexp"
	"strconv"

	"github.com/accord-iam/accord/internal/model"
)

// Files holds accord.yaml, hr.csv (day 1) and hr-day2.csv (day 2).
//
//go:embed accord.yaml hr.csv hr-day2.csv
var Files embed.FS

var relDate = regexp.MustCompile(`@([+-]\d+)`)

// Feed returns a day's HR file with its relative dates ("@-30": thirty
// days ago) made absolute against today, so the example reads the same
// whatever day it is run.
func Feed(day int, today model.Date) ([]byte, error) {
	name := "hr.csv"
	if day == 2 {
		name = "hr-day2.csv"
	} else if day != 1 {
		return nil, fmt.Errorf("the quickstart has days 1 and 2, not %d", day)
	}
	data, err := Files.ReadFile(name)
	if err != nil {
		return nil, err
	}
	return relDate.ReplaceAllFunc(data, func(m []byte) []byte {
		n, _ := strconv.Atoi(string(m[1:]))
		return []byte(today.AddDays(n).String())
	}), nil
}

// Groups are the groups the simulated target starts with.
var Groups = []string{"all-staff", "crm", "sales-drive", "github", "jira", "erp", "hr-portal"}
