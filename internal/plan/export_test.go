package plan

// BusyPage is how many busy pairs the planner reads at a time.
const BusyPage = busyPage
