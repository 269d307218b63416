package testkit_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/audit"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/testkit"
)

func TestHRSource(t *testing.T) {
	tests := []struct {
		name         string
		hr           testkit.HR
		source, head string
	}{
		{"standard", testkit.HR{}, `sources:
  - name: hr
    format: csv
    path: hr.csv
    key: employee_id
    start: start_date
    end: end_date
    columns:
      - {name: employee_id, type: string, required: true}
      - {name: first_name, type: string, required: true}
      - {name: last_name, type: string, required: true}
      - {name: email, type: email, required: true}
      - {name: department, type: enum, values: [Sales, Engineering, Finance]}
      - {name: start_date, type: date, required: true}
      - {name: end_date, type: date}
`, "employee_id,first_name,last_name,email,department,start_date,end_date\n"},
		{"fewest columns: no end date", testkit.HR{Columns: []string{"employee_id", "email", "start_date"}}, `sources:
  - name: hr
    format: csv
    path: hr.csv
    key: employee_id
    start: start_date
    columns:
      - {name: employee_id, type: string, required: true}
      - {name: email, type: email, required: true}
      - {name: start_date, type: date, required: true}
`, "employee_id,email,start_date\n"},
		{"extra columns and a previous key", testkit.HR{
			Columns:       append(testkit.StandardColumns("employee_type", "title"), "former_id"),
			Departments:   []string{"Sales"},
			EmployeeTypes: []string{"employee", "service"},
		}, `sources:
  - name: hr
    format: csv
    path: hr.csv
    key: employee_id
    start: start_date
    end: end_date
    previous_key: former_id
    columns:
      - {name: employee_id, type: string, required: true}
      - {name: first_name, type: string, required: true}
      - {name: last_name, type: string, required: true}
      - {name: email, type: email, required: true}
      - {name: department, type: enum, values: [Sales]}
      - {name: employee_type, type: enum, values: [employee, service]}
      - {name: title, type: string}
      - {name: start_date, type: date, required: true}
      - {name: end_date, type: date}
      - {name: former_id, type: string}
`, "employee_id,first_name,last_name,email,department,employee_type,title,start_date,end_date,former_id\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.source, tc.hr.Source())
			require.Equal(t, tc.head, tc.hr.Header())
		})
	}
}

func TestHRUnknownColumnPanics(t *testing.T) {
	require.PanicsWithValue(t, `testkit: unknown HR column "salary"`, func() {
		_ = testkit.HR{Columns: []string{"employee_id", "salary"}}.Source()
	})
}

func TestStandardColumnsDoNotShareStorage(t *testing.T) {
	base := testkit.StandardColumns("title")
	a := append(base, "former_id")
	b := append(base, "other")
	require.Equal(t, "former_id", a[len(a)-1])
	require.Equal(t, "other", b[len(b)-1])
}

func TestDepartmentRoles(t *testing.T) {
	require.Equal(t, `policy:
  roles:
    - name: sales
      when: department == "Sales"
      grants: [{target: saas, entitlements: [crm, sales-drive]}]
    - name: engineering
      when: department == "Engineering"
      grants: [{target: saas, entitlements: [github]}]
`, testkit.DepartmentRoles("saas", []string{"crm", "sales-drive"}, []string{"github"}))
}

func TestClockKeepsTheTimeOfDayAcrossDays(t *testing.T) {
	c := testkit.NewClock("2026-03-02")
	start := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	first := c.Now()
	require.False(t, first.Before(start))
	require.Less(t, first.Sub(start), time.Hour, "only the real time since NewClock is added")
	c.Set("2026-04-09")
	moved := c.Now()
	require.Equal(t, time.Date(2026, 4, 9, 0, 0, 0, 0, time.UTC), moved.Truncate(24*time.Hour))
	require.False(t, moved.Add(-37*24*time.Hour).Before(first), "time of day keeps running")
}

func TestAuditLogKeepsRecordsInOrder(t *testing.T) {
	var l testkit.AuditLog
	l.Append(context.Background(), audit.Record{Message: "one"}, audit.Record{Message: "two"})
	l.Append(context.Background(), audit.Record{Message: "three"})
	recs := l.Records()
	require.Len(t, recs, 3)
	require.Equal(t, []string{"one", "two", "three"}, []string{recs[0].Message, recs[1].Message, recs[2].Message})
	recs[0].Message = "changed"
	require.Equal(t, "one", l.Records()[0].Message, "Records is a copy")
	testkit.RequireNoSecrets(t, l.Records(), "s3cret")
}

func TestHeldRun(t *testing.T) {
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	run, jobs := testkit.HeldRun("r", "crm", "X", 3, now)
	require.Equal(t, model.RunHeld, run.State)
	require.Len(t, jobs, 3)
	require.Equal(t, "X00002", jobs[2].PersonKey)
	require.Equal(t, "X00002", jobs[2].Actions[0].PersonKey)
	require.Equal(t, model.OpDisable, jobs[2].Actions[0].Op)
	require.Equal(t, "crm", jobs[2].Actions[0].Target)
}
