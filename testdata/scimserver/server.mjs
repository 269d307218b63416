// A real SCIM 2.0 service provider for accord's connector tests.
//
// The protocol (routing, filter parsing and matching, PATCH application,
// schema validation, ListResponse paging, discovery endpoints) is SCIMMY's
// and SCIMMY Routers'; this file only adds what SCIMMY leaves to its user:
// an in-memory store with the constraints a real target enforces
// (userName and displayName uniqueness -> 409, unknown ids -> 404, group
// members must exist) and the read-only `groups` attribute of a User.
//
// Express stays on 4.x: under Express 5 req.query is re-parsed on each
// read, so the routers' numeric startIndex/count are lost and paging with
// them.
//
// Usage: SCIM_TOKEN=... [SCIM_BULK=maxOperations] node server.mjs [port]   (port 0 or absent: any free port)
// Prints one line "READY <base URL>" on stdout once it accepts requests.
import crypto from "node:crypto";
import express from "express";
import SCIMMY from "scimmy";
import SCIMMYRouters from "scimmy-routers";

const token = process.env.SCIM_TOKEN;
if (!token) {
    console.error("server.mjs: set SCIM_TOKEN to the bearer token clients must send");
    process.exit(2);
}
const port = Number(process.argv[2] ?? process.env.SCIM_PORT ?? 0);

const users = new Map();  // id -> stored user (plain JSON)
const groups = new Map(); // id -> stored group (plain JSON)

// SCIMMY hands handlers schema instances; storing plain JSON keeps later
// patches from sharing objects with earlier answers.
const plain = (v) => JSON.parse(JSON.stringify(v));

function stamp(prev) {
    const now = new Date().toISOString();
    const version = (prev?.meta?.version ?? 0) + 1;
    return {created: prev?.meta?.created ?? now, lastModified: now, version};
}

function conflict(detail) {
    return new SCIMMY.Types.Error(409, "uniqueness", detail);
}

function notFound(kind, id) {
    return new SCIMMY.Types.Error(404, null, `${kind} ${id} not found`);
}

// A stored record carries meta.version as a number so it can be
// incremented; SCIM wants a weak ETag string.
function outMeta(rec) {
    return {...rec, meta: {created: rec.meta.created, lastModified: rec.meta.lastModified, version: `W/"${rec.meta.version}"`}};
}

function userOut(u) {
    const memberOf = [...groups.values()]
        .filter((g) => (g.members ?? []).some((m) => m.value === u.id))
        .map((g) => ({value: g.id, display: g.displayName, type: "direct", $ref: `Groups/${g.id}`}));
    return outMeta({...u, groups: memberOf.length ? memberOf : undefined});
}

function groupOut(g) {
    const members = (g.members ?? []).map((m) => ({value: m.value, display: users.get(m.value)?.userName, type: "User"}));
    return outMeta({...g, members});
}

function listOrOne(resource, store, kind, out) {
    if (resource.id) {
        const rec = store.get(resource.id);
        if (!rec) throw notFound(kind, resource.id);
        return out(rec);
    }
    const all = [...store.values()].map(out);
    return resource.filter ? resource.filter.match(all) : all;
}

SCIMMY.Resources.declare(SCIMMY.Resources.User
    .extend(SCIMMY.Schemas.EnterpriseUser, false)
    .ingress((resource, instance) => {
        const data = plain(instance);
        delete data.groups; // read-only: membership is changed on the Group
        const name = String(data.userName ?? "").toLowerCase();
        for (const u of users.values()) {
            if (u.id !== resource.id && String(u.userName).toLowerCase() === name)
                throw conflict(`userName ${data.userName} is already taken`);
        }
        if (resource.id) {
            const prev = users.get(resource.id);
            if (!prev) throw notFound("User", resource.id);
            const next = {...data, id: prev.id, meta: stamp(prev)};
            users.set(prev.id, next);
            return userOut(next);
        }
        const id = crypto.randomUUID();
        const rec = {...data, id, active: data.active ?? true, meta: stamp()};
        users.set(id, rec);
        return userOut(rec);
    })
    .egress((resource) => listOrOne(resource, users, "User", userOut))
    .degress((resource) => {
        if (!users.delete(resource.id)) throw notFound("User", resource.id);
        for (const g of groups.values()) g.members = (g.members ?? []).filter((m) => m.value !== resource.id);
    }));

SCIMMY.Resources.declare(SCIMMY.Resources.Group
    .ingress((resource, instance) => {
        const data = plain(instance);
        for (const g of groups.values()) {
            if (g.id !== resource.id && g.displayName === data.displayName)
                throw conflict(`displayName ${data.displayName} is already taken`);
        }
        const members = [];
        for (const m of data.members ?? []) {
            if (!users.has(m.value))
                throw new SCIMMY.Types.Error(400, "invalidValue", `members: user ${m.value} does not exist`);
            if (!members.some((x) => x.value === m.value)) members.push({value: m.value});
        }
        if (resource.id) {
            const prev = groups.get(resource.id);
            if (!prev) throw notFound("Group", resource.id);
            const next = {...data, members, id: prev.id, meta: stamp(prev)};
            groups.set(prev.id, next);
            return groupOut(next);
        }
        const id = crypto.randomUUID();
        const rec = {...data, members, id, meta: stamp()};
        groups.set(id, rec);
        return groupOut(rec);
    })
    .egress((resource) => listOrOne(resource, groups, "Group", groupOut))
    .degress((resource) => {
        if (!groups.delete(resource.id)) throw notFound("Group", resource.id);
    }));

// SCIM_BULK=<maxOperations> offers /Bulk (SCIMMY ships with it off).
if (process.env.SCIM_BULK) SCIMMY.Config.set("bulk", Number(process.env.SCIM_BULK));

const app = express();
app.get("/healthz", (req, res) => res.send("ok"));
app.use("/scim/v2", new SCIMMYRouters({
    type: "bearer",
    handler: (req) => {
        if (req.header("Authorization") !== `Bearer ${token}`) throw new Error("Bearer token missing or invalid");
        return "accord";
    },
}));

const server = app.listen(port, "127.0.0.1", () => {
    const {port: actual} = server.address();
    console.log(`READY http://127.0.0.1:${actual}/scim/v2`);
});
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => server.close(() => process.exit(0)));
