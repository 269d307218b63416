package sqlstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/accord-iam/accord/internal/model"
)

// Packed actions (issue 16). A job stored pending with plain pending
// actions keeps them on its own row (jobs.packed) instead of as rows of
// actions: a held initial load is half a million jobs but five and a half
// million actions, and an action row with its key and four indexes costs
// more than the planner that made it. The actions' IDs are allocated when
// the run is stored (first_action .. first_action+packed_n-1), so an
// action keeps its ID when LeaseJobs writes it to actions (unpackJobs) in
// the lease transaction. Until then every reader derives the actions from
// the job: state pending while the job is unfinished, cancelled (at its
// run's finish) once the job is cancelled; created and updated at the
// run's creation.
//
// The encoding is a JSON object {"v":1,"r":reason,"a":[action...]}, each
// action an array [op, entitlements, attributes, previous, native_id,
// reason, seq] whose entitlements, attributes and previous are the JSON
// of the actions columns (null for ''). An action's trailing fields are
// left out where they hold the default: null, "", the job's reason "r"
// and, for seq, the action's place in the list. A grant of one
// entitlement is then ["grant",["name"]]: an initial load writes five and
// a half million of them, and the bytes written are most of what storing
// the run costs.
//
// Version 2 writes such a grant of one entitlement with every other field
// at its default as the entitlement's JSON string alone: "name" (12 bytes
// less per grant, a fifth of the database of a held initial load).
// Version 1 rows, written before, are read as they were.

const packedVersion = 2

// packedAction is one action of a packed job, with its JSON columns as
// stored in actions.
type packedAction struct {
	seq                   int
	op, ents, attrs, prev string
	nativeID, reason      string
	hasReason, hasSeq     bool
	short                 bool // written as a bare entitlement (version 2)
}

func (p *packedAction) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' { // a plain grant of one entitlement: b is its JSON string
		p.op, p.ents, p.short = string(model.OpGrant), "["+string(b)+"]", true
		return nil
	}
	var f []json.RawMessage
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	if len(f) < 1 || len(f) > 7 {
		return fmt.Errorf("an action of %d fields", len(f))
	}
	field := func(i int) json.RawMessage {
		if i < len(f) {
			return f[i]
		}
		return nil
	}
	if err := json.Unmarshal(f[0], &p.op); err != nil {
		return err
	}
	p.ents, p.attrs, p.prev = rawColumn(field(1)), rawColumn(field(2)), rawColumn(field(3))
	if raw := field(4); raw != nil {
		if err := json.Unmarshal(raw, &p.nativeID); err != nil {
			return err
		}
	}
	if raw := field(5); raw != nil {
		p.hasReason = true
		if err := json.Unmarshal(raw, &p.reason); err != nil {
			return err
		}
	}
	if raw := field(6); raw != nil {
		p.hasSeq = true
		if err := json.Unmarshal(raw, &p.seq); err != nil {
			return err
		}
	}
	return nil
}

func rawColumn(r json.RawMessage) string {
	if len(r) == 0 || string(r) == "null" {
		return ""
	}
	return string(r)
}

func decodePacked(s string) ([]packedAction, error) {
	var v struct {
		V int            `json:"v"`
		R string         `json:"r"`
		A []packedAction `json:"a"`
	}
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return nil, fmt.Errorf("packed actions: %w", err)
	}
	if v.V != 1 && v.V != packedVersion {
		return nil, fmt.Errorf("packed actions: unknown encoding version %d", v.V)
	}
	for k := range v.A {
		a := &v.A[k]
		if a.short && v.V == 1 {
			return nil, fmt.Errorf("packed actions: action %d is a bare string, which version 1 does not write", k)
		}
		if !a.hasReason {
			a.reason = v.R
		}
		if !a.hasSeq {
			a.seq = k
		}
	}
	return v.A, nil
}

// packable says whether the actions of job j (with IDs ids, and encoded
// as encs) can be stored packed: what a packed action does not store
// (state, attempts, error, times other than the run's creation) must be
// what a reader derives, and the IDs must be consecutive.
func packable(created int64, j *model.Job, encs []encodedAction, ids []int64) bool {
	if len(j.Actions) == 0 || j.State != model.JobPending || j.Attempts != 0 || j.LeaseOwner != "" ||
		ids[len(ids)-1]-ids[0] != int64(len(ids)-1) {
		return false
	}
	for k := range j.Actions {
		a := &j.Actions[k]
		if a.State != model.ActionPending || a.Attempts != 0 || encs[k].errText != "" || !a.FinishedAt.IsZero() ||
			micros(a.CreatedAt) != created || micros(a.UpdatedAt) != created ||
			!utf8.ValidString(string(a.Op)) || !utf8.ValidString(a.NativeID) || !utf8.ValidString(a.Reason) {
			return false
		}
	}
	return true
}

// appendPacked appends the packed encoding of a job's actions.
func appendPacked(b []byte, actions []model.Action, encs []encodedAction) []byte {
	reason := ""
	if len(actions) > 0 {
		reason = actions[0].Reason
	}
	b = append(b, `{"v":`...)
	b = strconv.AppendInt(b, packedVersion, 10)
	if reason != "" {
		b = append(b, `,"r":`...)
		b = appendJSONString(b, reason)
	}
	b = append(b, `,"a":[`...)
	for k := range actions {
		a := &actions[k]
		if k > 0 {
			b = append(b, ',')
		}
		raws := [3]string{encStrings(a.Entitlements), encs[k].attrs, encs[k].prev}
		// last is the index of the last field that is not the default.
		last := 0
		switch {
		case a.Seq != k:
			last = 6
		case a.Reason != reason:
			last = 5
		case a.NativeID != "":
			last = 4
		case raws[2] != "":
			last = 3
		case raws[1] != "":
			last = 2
		case raws[0] != "":
			last = 1
		}
		if last == 1 && a.Op == model.OpGrant && len(a.Entitlements) == 1 {
			// raws[0] is ["name"] as the entitlements column holds it;
			// the reader wraps "name" back into the same bytes.
			b = append(b, raws[0][1:len(raws[0])-1]...)
			continue
		}
		b = append(b, '[')
		b = appendJSONString(b, string(a.Op))
		for i := 1; i <= last; i++ {
			b = append(b, ',')
			switch i {
			case 1, 2, 3:
				if raws[i-1] == "" {
					b = append(b, "null"...)
				} else {
					b = append(b, raws[i-1]...)
				}
			case 4:
				b = appendJSONString(b, a.NativeID)
			case 5:
				b = appendJSONString(b, a.Reason)
			case 6:
				b = strconv.AppendInt(b, int64(a.Seq), 10)
			}
		}
		b = append(b, ']')
	}
	return append(b, "]}"...)
}

// appendJSONString appends s (valid UTF-8) as a JSON string.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// packedJob is a job with packed actions, as readers see it.
type packedJob struct {
	id, first         int64
	n                 int
	run, person, tgt  string
	state, packed     string
	created, finished int64
}

// packedCols are the columns scanPacked reads from jobs j.
const packedCols = `j.id, j.first_action, j.packed_n, j.run_id, j.person_key, j.target, j.state, j.packed,
	(SELECT r.created_at FROM runs r WHERE r.id = j.run_id), (SELECT r.finished_at FROM runs r WHERE r.id = j.run_id)`

func scanPacked(sc scanner) (packedJob, error) {
	var p packedJob
	err := sc.Scan(&p.id, &p.first, &p.n, &p.run, &p.person, &p.tgt, &p.state, &p.packed, &p.created, &p.finished)
	return p, err
}

// actionState is the state of the packed actions of a job in state s.
func packedState(jobState string) model.ActionState {
	if jobState == string(model.JobCancelled) {
		return model.ActionCancelled
	}
	return model.ActionPending
}

// actions decodes the job's actions with IDs above after.
func (p packedJob) actions(after int64) ([]model.Action, error) {
	pas, err := decodePacked(p.packed)
	if err == nil && len(pas) != p.n {
		err = fmt.Errorf("packed actions: %d, not %d", len(pas), p.n)
	}
	if err != nil {
		return nil, fmt.Errorf("job %d: %w", p.id, err)
	}
	state := packedState(p.state)
	var updated, finished int64 = p.created, 0
	if state == model.ActionCancelled {
		updated, finished = p.finished, p.finished
	}
	out := make([]model.Action, 0, len(pas))
	for k, pa := range pas {
		id := p.first + int64(k)
		if id <= after {
			continue
		}
		a := model.Action{
			ID: id, RunID: p.run, JobID: p.id, Seq: pa.seq, PersonKey: p.person, Target: p.tgt,
			Op: model.Op(pa.op), NativeID: pa.nativeID, Reason: pa.reason, State: state,
			CreatedAt: fromMicros(p.created), UpdatedAt: fromMicros(updated), FinishedAt: fromMicros(finished),
		}
		var e1, e2, e3 error
		a.Entitlements, e1 = decStrings(pa.ents)
		a.Attributes, e2 = decAttrs(pa.attrs)
		a.Previous, e3 = decAttrs(pa.prev)
		if err := errors.Join(e1, e2, e3); err != nil {
			return nil, fmt.Errorf("action %d: %w", id, err)
		}
		out = append(out, a)
	}
	return out, nil
}

// unpackJobs writes the packed actions of jobs ids (those that have any)
// to actions, pending, with their allocated IDs, and clears them from the
// jobs. The caller warms actionsInsert before its transaction. It runs
// in the transaction that leases (or cancels) the jobs, so a
// job is either packed or unpacked, never both or neither.
func (s *Store) unpackJobs(ctx context.Context, tx conn, ids []any) error {
	var jobs []packedJob
	err := chunks(ids, maxInList, func(ids []any) error {
		got, err := all(ctx, tx, "unpack actions", `SELECT `+packedCols+` FROM jobs j WHERE j.id IN (`+
			placeholders(len(ids))+`) AND j.packed_n > 0`, ids, scanPacked)
		jobs = append(jobs, got...)
		return err
	})
	if err != nil || len(jobs) == 0 {
		return err
	}
	type row struct {
		job *packedJob
		id  int64
		pa  packedAction
	}
	var rows []row
	var packedIDs []any
	for i := range jobs {
		p := &jobs[i]
		pas, err := decodePacked(p.packed)
		if err != nil {
			return fmt.Errorf("unpack job %d: %w", p.id, err)
		}
		for k, pa := range pas {
			rows = append(rows, row{p, p.first + int64(k), pa})
		}
		packedIDs = append(packedIDs, p.id)
	}
	err = s.bulk(ctx, tx, actionsInsert, len(rows), func(i int, args []any) ([]any, error) {
		r := &rows[i]
		return append(args, r.id, r.job.run, r.job.id, r.pa.seq, r.job.person, r.job.tgt, r.pa.op, r.pa.ents,
			r.pa.attrs, r.pa.prev, r.pa.nativeID, r.pa.reason, string(model.ActionPending), 0, "", "",
			r.job.created, r.job.created, int64(0)), nil
	})
	if err != nil {
		return fmt.Errorf("unpack actions: %w", err)
	}
	return chunks(packedIDs, maxInList, func(ids []any) error {
		_, err := tx.ExecContext(ctx, `UPDATE jobs SET packed = '', packed_n = 0 WHERE id IN (`+placeholders(len(ids))+`)`, ids...)
		return err
	})
}

// reserveActionIDs makes SQLite's AUTOINCREMENT counter of actions pass
// last: packed actions hold IDs no row of actions has yet, which the next
// allocIDs (the larger of the live maximum and sqlite_sequence) must not
// hand out again. PostgreSQL's sequence has moved past them already.
func (s *Store) reserveActionIDs(ctx context.Context, tx conn, last int64) error {
	if s.d.name != "sqlite" {
		return nil
	}
	res, err := tx.ExecContext(ctx, `UPDATE sqlite_sequence SET seq = MAX(seq, ?) WHERE name = 'actions'`, last)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n > 0 {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO sqlite_sequence (name, seq) VALUES ('actions', ?)`, last)
	return err
}
