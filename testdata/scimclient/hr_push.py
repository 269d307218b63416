#!/usr/bin/env python3
"""An HR system pushing workers to accord over SCIM 2.0, written against
RFC 7643/7644 with the Python standard library only: an independent
client, sharing no code with accord.

Usage: ACCORD_SCIM_KEY=acc_... hr_push.py http://127.0.0.1:PORT/scim/v2

It runs one scenario, checks every answer itself, and prints a JSON
summary on stdout. Exit status 1 names the first check that failed.
"""
import json
import sys
import os
import urllib.error
import urllib.parse
import urllib.request

BASE = sys.argv[1].rstrip("/")
KEY = os.environ["ACCORD_SCIM_KEY"]
SCIM = "application/scim+json"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
ENT = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
HR = "urn:accord:params:scim:schemas:extension:hr:1.0:User"
summary = {}


def call(method, path, body=None, raw=None, headers=None):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(BASE + path, data=data, method=method)
    req.add_header("Authorization", "Bearer " + KEY)
    req.add_header("Accept", SCIM)
    if data is not None:
        req.add_header("Content-Type", SCIM)
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            status, hdrs, payload = resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as e:
        status, hdrs, payload = e.code, e.headers, e.read()
    doc = json.loads(payload) if payload else None
    if payload:
        check(hdrs.get("Content-Type", "").startswith(SCIM), "%s %s answered %s, not %s" % (method, path, hdrs.get("Content-Type"), SCIM))
    return status, hdrs, doc


def check(cond, what):
    if not cond:
        print("FAILED: " + what, file=sys.stderr)
        print(json.dumps(summary), flush=True)
        sys.exit(1)


def expect_error(status, doc, want_status, want_type, what):
    check(status == want_status, "%s: status %s, want %s: %s" % (what, status, want_status, doc))
    check(doc["schemas"] == [ERROR], "%s: not a SCIM error: %s" % (what, doc))
    check(doc["status"] == str(want_status), "%s: error status %r" % (what, doc.get("status")))
    if want_type:
        check(doc.get("scimType") == want_type, "%s: scimType %r, want %r (%s)" % (what, doc.get("scimType"), want_type, doc.get("detail")))
    return doc["detail"]


def worker(emp, first, last, dept):
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENT, HR],
        "externalId": emp,
        "userName": "%s.%s@example.com" % (first.lower(), last.lower()),
        "name": {"givenName": first, "familyName": last},
        "active": True,
        ENT: {"employeeNumber": emp, "department": dept},
        HR: {"startDate": "2026-01-01"},
    }


def count(flt):
    status, _, doc = call("GET", "/Users?filter=" + urllib.parse.quote(flt))
    check(status == 200, "filter %s: %s %s" % (flt, status, doc))
    check(doc["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:ListResponse"], "filter %s: not a ListResponse" % flt)
    return doc["totalResults"], [r["id"] for r in doc["Resources"]]


# Discovery, as a standard client starts.
status, _, spc = call("GET", "/ServiceProviderConfig")
check(status == 200 and spc["patch"]["supported"] and spc["bulk"]["supported"] and spc["etag"]["supported"], "ServiceProviderConfig: %s" % spc)
status, _, rts = call("GET", "/ResourceTypes")
check(status == 200 and rts["Resources"][0]["endpoint"] == "/Users", "ResourceTypes: %s" % rts)

# Create, after looking the worker up as HR connectors do.
check(count('externalId eq "H001"') == (0, []), "H001 exists before it is created")
status, hdrs, user = call("POST", "/Users", worker("H001", "Ada", "Byron", "Sales"))
check(status == 201, "create H001: %s %s" % (status, user))
check(user["id"] == "H001" and hdrs.get("Location", "").endswith("/Users/H001"), "create H001: id/location %s" % user)
etag = hdrs.get("ETag")
check(etag and etag == user["meta"]["version"], "create H001: ETag %r vs meta.version %r" % (etag, user["meta"]["version"]))
summary["created"] = user["id"]

# Filters on userName and externalId.
check(count('userName eq "ada.byron@example.com"') == (1, ["H001"]), "filter on userName")
check(count('externalId eq "H001"') == (1, ["H001"]), "filter on externalId")
check(count('externalId eq "H001" or userName eq "nobody@example.com"') == (1, ["H001"]), "filter with or")
check(count('externalId eq "H001" and userName eq "nobody@example.com"') == (0, []), "filter with and")
summary["filters"] = "ok"

# PATCH with a stale version is refused; with the current one it applies.
patch = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
         "Operations": [{"op": "replace", "path": ENT + ":department", "value": "Engineering"}]}
status, _, doc = call("PATCH", "/Users/H001", patch, headers={"If-Match": 'W/"0000"'})
expect_error(status, doc, 412, None, "stale If-Match")
status, hdrs, user = call("PATCH", "/Users/H001", patch, headers={"If-Match": etag})
check(status == 200 and user[ENT]["department"] == "Engineering", "patch department: %s %s" % (status, user))
check(hdrs.get("ETag") != etag, "the version changes with the User")
summary["patched"] = user[ENT]["department"]

# Deactivate: the worker leaves.
status, _, user = call("PATCH", "/Users/H001", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                                                "Operations": [{"op": "replace", "path": "active", "value": False}]})
check(status == 200 and user["active"] is False, "deactivate H001: %s %s" % (status, user))
summary["deactivated"] = user["id"]

# Bulk with one bad record: every operation is reported.
bad = worker("H011", "Bad", "Department", "Marketing")
status, _, bulk = call("POST", "/Bulk", {
    "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
    "Operations": [
        {"method": "POST", "path": "/Users", "bulkId": "w10", "data": worker("H010", "Grace", "Brewster", "Finance")},
        {"method": "POST", "path": "/Users", "bulkId": "w11", "data": bad},
        {"method": "POST", "path": "/Users", "bulkId": "w12", "data": worker("H012", "Alan", "Mathison", "Sales")},
        {"method": "PATCH", "path": "/Users/bulkId:w10", "data": {"Operations": [{"op": "replace", "path": "name.givenName", "value": "Grace B."}]}},
    ]})
check(status == 200, "bulk: %s %s" % (status, bulk))
ops = bulk["Operations"]
check([o["status"] for o in ops] == ["201", "400", "201", "200"], "bulk statuses: %s" % ops)
check([o.get("bulkId") for o in ops[:3]] == ["w10", "w11", "w12"], "bulk ids: %s" % ops)
check(ops[1]["response"]["schemas"] == [ERROR] and ops[1]["response"]["scimType"] == "invalidValue", "bulk bad record: %s" % ops[1])
check("department" in ops[1]["response"]["detail"], "the bad record's error names the attribute: %s" % ops[1])
check(count('externalId eq "H011"')[0] == 0, "the bad record was stored")
summary["bulk"] = [o["status"] for o in ops]
summary["bulk_error"] = ops[1]["response"]["detail"]

# Hostile bodies: each refused with a SCIM error, none stored.
hostile = {}
nul = worker("H020", "Ev\u0000il", "Nul", "Sales")
hostile["nul"] = expect_error(*call("POST", "/Users", nul)[::2], 400, "invalidValue", "NUL")
bidi = worker("H021", "Ev\u202eil", "Bidi", "Sales")
hostile["bidi"] = expect_error(*call("POST", "/Users", bidi)[::2], 400, "invalidValue", "bidi override")
wrong = worker("H022", "Wrong", "Types", "Sales")
wrong["userName"] = 12345
hostile["wrong_type"] = expect_error(*call("POST", "/Users", wrong)[::2], 400, "invalidValue", "userName as a number")
wrong2 = worker("H023", "Wrong", "Shape", "Sales")
wrong2["name"] = "Wrong Shape"
hostile["wrong_shape"] = expect_error(*call("POST", "/Users", wrong2)[::2], 400, "invalidValue", "name as a string")
deep = b'{"externalId": "H024", "x": ' + b"[" * 10000 + b"]" * 10000 + b"}"
hostile["deep"] = expect_error(*call("POST", "/Users", raw=deep)[::2], 400, "invalidSyntax", "deeply nested JSON")
big = worker("H025", "Big", "Body", "Sales")
big["title"] = "x" * 100000  # over the api.max_body_bytes of the test (64 KiB)
status, _, doc = call("POST", "/Users", big)
hostile["oversize"] = expect_error(status, doc, 413, "tooLarge", "oversize body")
hostile["malformed"] = expect_error(*call("POST", "/Users", raw=b'{"externalId": "H026",')[::2], 400, "invalidSyntax", "malformed JSON")
for emp in ("H020", "H021", "H022", "H023", "H024", "H025", "H026"):
    check(count('externalId eq "%s"' % emp)[0] == 0, "hostile %s was stored" % emp)
summary["hostile"] = hostile

print(json.dumps(summary), flush=True)
