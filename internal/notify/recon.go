package notify

// LeaverActive: reconciliation found a leaver's account still active on a
// target. It is sent whatever the drift policy says.
const LeaverActive Kind = "drift.leaver_active"
