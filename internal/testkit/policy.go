package testkit

import (
	"fmt"
	"strings"
)

// DepartmentRoles is the start of a config's policy section with the two
// roles most tests use: people in Sales get sales on target, people in
// Engineering get engineering. More policy keys (exclusions, thresholds)
// may follow it, indented by two spaces.
func DepartmentRoles(target string, sales, engineering []string) string {
	role := func(name, dept string, ents []string) string {
		return fmt.Sprintf("    - name: %s\n      when: department == %q\n      grants: [{target: %s, entitlements: [%s]}]\n",
			name, dept, target, strings.Join(ents, ", "))
	}
	return "policy:\n  roles:\n" + role("sales", "Sales", sales) + role("engineering", "Engineering", engineering)
}
