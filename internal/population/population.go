// Package population generates the synthetic organisation accord's
// initial-load benchmarks run on (issue 16): N persons spread round-robin
// over departments, memory targets that each grant two birthright
// entitlements, and one role per department granting more on every
// target. The script scripts/initial-load-bench.sh (through
// scripts/loadgen) and the Go benchmarks take it from here, so that they
// measure the same shape.
package population

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/accord-iam/accord/internal/model"
)

// Spec is the shape of a population. Zero fields take the defaults of
// the benchmark: 5 targets, 20 departments, 8 entitlements per
// role and target (10 per person and target with the birthright two).
type Spec struct {
	Persons int
	Targets int
	Depts   int
	PerRole int
	// Creates is the policy's creates threshold ("": none).
	Creates string
}

func (s Spec) withDefaults() Spec {
	if s.Targets == 0 {
		s.Targets = 5
	}
	if s.Depts == 0 {
		s.Depts = 20
	}
	if s.PerRole == 0 {
		s.PerRole = 8
	}
	return s
}

// Start is every person's start date.
const Start = "2020-01-01"

// Key is person i's key.
func Key(i int) string { return fmt.Sprintf("P%07d", i) }

// Dept is person i's department.
func (s Spec) Dept(i int) string { return fmt.Sprintf("d%d", i%s.withDefaults().Depts) }

// Person is person i as the feed gives them, typed as an import stores
// them.
func (s Spec) Person(i int) model.Person {
	start := model.MustDate(Start)
	return model.Person{Key: Key(i), Source: "hr", Start: start, Attributes: model.Attributes{
		"id": Key(i), "first": fmt.Sprintf("First%d", i), "last": fmt.Sprintf("Last%d", i),
		"email": fmt.Sprintf("p%d@example.com", i), "dept": s.Dept(i), "start": start,
	}}
}

// WriteFeed writes the HR feed (CSV, the columns Config declares) of
// s.Persons persons.
func (s Spec) WriteFeed(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.WriteString("id,first,last,email,dept,start,end\n")
	for i := range s.Persons {
		fmt.Fprintf(bw, "%s,First%d,Last%d,p%d@example.com,%s,%s,\n", Key(i), i, i, i, s.Dept(i), Start)
	}
	return bw.Flush()
}

// Config is accord's configuration for the population: the store at
// accord.db, the feed at hr.csv, the targets and the roles.
func (s Spec) Config() string {
	s = s.withDefaults()
	var b strings.Builder
	b.WriteString(`store:
  path: accord.db
sources:
  - name: hr
    format: csv
    path: hr.csv
    key: id
    start: start
    end: end
    columns:
      - {name: id, type: string, required: true}
      - {name: first, type: string, required: true}
      - {name: last, type: string, required: true}
      - {name: email, type: email, required: true}
      - {name: dept, type: string, required: true}
      - {name: start, type: date, required: true}
      - {name: end, type: date}
targets:
`)
	for t := range s.Targets {
		fmt.Fprintf(&b, `  - name: t%d
    type: memory
    account:
      userName: "{{ email }}"
      displayName: "{{ first }} {{ last }}"
      department: "{{ dept }}"
    birthright: [t%d-all-staff, t%d-base]
`, t, t, t)
	}
	b.WriteString("policy:\n")
	if s.Creates != "" {
		fmt.Fprintf(&b, "  thresholds: {creates: %q}\n", s.Creates)
	}
	b.WriteString("  roles:\n")
	for d := range s.Depts {
		fmt.Fprintf(&b, "    - name: dept%d\n      when: dept == \"d%d\"\n      grants:\n", d, d)
		for t := range s.Targets {
			ents := make([]string, s.PerRole)
			for e := range ents {
				ents[e] = fmt.Sprintf("t%d-d%d-e%d", t, d, e)
			}
			fmt.Fprintf(&b, "        - {target: t%d, entitlements: [%s]}\n", t, strings.Join(ents, ", "))
		}
	}
	return b.String()
}
