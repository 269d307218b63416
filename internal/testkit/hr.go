package testkit

import (
	"fmt"
	"slices"
	"strings"
)

// HR is the HR feed most tests use: a CSV file hr.csv keyed by
// employee_id, whose persons start on start_date and leave on end_date
// when those columns are there.
type HR struct {
	// Columns in file order, by name (see hrColumns); nil means
	// StandardColumns().
	Columns []string
	// Departments are the values the department column allows; nil means
	// Sales, Engineering, Finance.
	Departments []string
	// EmployeeTypes are the values the employee_type column allows; nil
	// means employee, contractor, service.
	EmployeeTypes []string
}

// StandardColumns are the columns of a person's joiner-mover-leaver
// story, with extra ones (such as "title") after the department.
func StandardColumns(extra ...string) []string {
	cols := []string{"employee_id", "first_name", "last_name", "email", "department"}
	cols = append(cols, extra...)
	// Clipped, so that a caller's append never writes into another's.
	return slices.Clip(append(cols, "start_date", "end_date"))
}

// hrColumns declares each known column; %s stands for the allowed values
// of an enum.
var hrColumns = map[string]string{
	"employee_id":   "{name: employee_id, type: string, required: true}",
	"first_name":    "{name: first_name, type: string, required: true}",
	"last_name":     "{name: last_name, type: string, required: true}",
	"email":         "{name: email, type: email, required: true}",
	"department":    "{name: department, type: enum, values: [%s]}",
	"employee_type": "{name: employee_type, type: enum, values: [%s]}",
	"title":         "{name: title, type: string}",
	"start_date":    "{name: start_date, type: date, required: true}",
	"end_date":      "{name: end_date, type: date}",
	// A converted person's former key (the source's previous_key).
	"former_id": "{name: former_id, type: string}",
}

func (h HR) columns() []string {
	if h.Columns == nil {
		return StandardColumns()
	}
	return h.Columns
}

// Source is the config's sources section for this feed, as YAML ending
// in a newline, to be placed at the top level of a config.
func (h HR) Source() string {
	deps, types := h.Departments, h.EmployeeTypes
	if deps == nil {
		deps = []string{"Sales", "Engineering", "Finance"}
	}
	if types == nil {
		types = []string{"employee", "contractor", "service"}
	}
	cols := h.columns()
	var b strings.Builder
	b.WriteString("sources:\n  - name: hr\n    format: csv\n    path: hr.csv\n    key: employee_id\n")
	if slices.Contains(cols, "start_date") {
		b.WriteString("    start: start_date\n")
	}
	if slices.Contains(cols, "end_date") {
		b.WriteString("    end: end_date\n")
	}
	if slices.Contains(cols, "former_id") {
		b.WriteString("    previous_key: former_id\n")
	}
	b.WriteString("    columns:\n")
	for _, c := range cols {
		decl, ok := hrColumns[c]
		if !ok {
			panic(fmt.Sprintf("testkit: unknown HR column %q", c))
		}
		switch c {
		case "department":
			decl = fmt.Sprintf(decl, strings.Join(deps, ", "))
		case "employee_type":
			decl = fmt.Sprintf(decl, strings.Join(types, ", "))
		}
		b.WriteString("      - " + decl + "\n")
	}
	return b.String()
}

// Header is the first line of the feed's CSV file, newline included.
func (h HR) Header() string {
	return strings.Join(h.columns(), ",") + "\n"
}
