package inbound

import "strings"

// Discovery documents (RFC 7643 5-7), describing exactly what accord
// accepts: the User resource with the enterprise and HR extensions,
// PATCH, Bulk and filters; no sorting, no password change, no groups.

// ServiceProviderConfig is the /ServiceProviderConfig document.
func ServiceProviderConfig(maxOps, maxPayload int, docs string) map[string]any {
	return map[string]any{
		"schemas":          []string{"urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"},
		"documentationUri": docs,
		"patch":            map[string]any{"supported": true},
		"bulk":             map[string]any{"supported": true, "maxOperations": maxOps, "maxPayloadSize": maxPayload},
		"filter":           map[string]any{"supported": true, "maxResults": MaxResults},
		"changePassword":   map[string]any{"supported": false},
		"sort":             map[string]any{"supported": false},
		"etag":             map[string]any{"supported": true},
		"authenticationSchemes": []map[string]any{{
			"type": "oauthbearertoken", "name": "API key",
			"description": "An accord API key with scope scim:write, sent as Authorization: Bearer acc_...",
			"primary":     true,
		}},
		"meta": map[string]any{"resourceType": "ServiceProviderConfig", "location": "/scim/v2/ServiceProviderConfig"},
	}
}

// MaxResults bounds a page of a list or filter.
const MaxResults = 200

// ResourceTypes is the /ResourceTypes list.
func (m *Mapping) ResourceTypes() []map[string]any {
	var ext []map[string]any
	for _, s := range m.extensions() {
		ext = append(ext, map[string]any{"schema": s, "required": false})
	}
	return []map[string]any{{
		"schemas":          []string{"urn:ietf:params:scim:schemas:core:2.0:ResourceType"},
		"id":               "User",
		"name":             "User",
		"endpoint":         "/Users",
		"description":      "A worker from HR, stored as a person of source " + m.Spec.Name,
		"schema":           UserSchema,
		"schemaExtensions": ext,
		"meta":             map[string]any{"resourceType": "ResourceType", "location": "/scim/v2/ResourceTypes/User"},
	}}
}

func (m *Mapping) extensions() []string {
	out := []string{EnterpriseSchema}
	for _, sl := range m.Slots() {
		if sl.Schema == HRSchema {
			return append(out, HRSchema)
		}
	}
	return out
}

// Schemas is the /Schemas list: each schema with the attributes accord
// accepts; those a column is mapped from say which.
func (m *Mapping) Schemas() []map[string]any {
	out := []map[string]any{m.schemaDoc(UserSchema, "User", coreAttrs)}
	out[0]["attributes"] = append(out[0]["attributes"].([]map[string]any),
		map[string]any{"name": "active", "type": "boolean", "multiValued": false, "required": false, "mutability": "readWrite", "returned": "default",
			"description": "false ends the employment today (a leaver); true on an ended employment is a rehire"})
	out = append(out, m.schemaDoc(EnterpriseSchema, "EnterpriseUser", enterpriseAttrs))
	var hr []attrDef
	for _, sl := range m.Slots() {
		if sl.Schema == HRSchema {
			hr = append(hr, attrDef{name: sl.Attr})
		}
	}
	if len(hr) > 0 {
		out = append(out, m.schemaDoc(HRSchema, "AccordHR", hr))
	}
	return out
}

func (m *Mapping) schemaDoc(id, name string, defs []attrDef) map[string]any {
	attrs := []map[string]any{}
	for _, d := range defs {
		a := map[string]any{"name": d.name, "type": "string", "multiValued": d.multi(), "required": false,
			"caseExact": d.name == "externalId", "mutability": "readWrite", "returned": "default",
			"uniqueness": "none", "description": m.describe(Slot{Schema: id, Attr: d.name})}
		if d.name == m.key.Attr && id == m.key.Schema && m.key.Sub == "" {
			a["required"], a["uniqueness"] = true, "server"
		}
		if d.complex() {
			a["type"] = "complex"
			var subs []map[string]any
			for _, s := range d.subs {
				subs = append(subs, map[string]any{"name": s, "type": "string", "multiValued": false, "required": false,
					"mutability": "readWrite", "returned": "default", "description": m.describe(Slot{Schema: id, Attr: d.name, Sub: s})})
			}
			if d.multi() {
				subs = append(subs, map[string]any{"name": "type", "type": "string", "multiValued": false, "required": false,
					"canonicalValues": d.types, "mutability": "readWrite", "returned": "default"})
			}
			a["subAttributes"] = subs
		}
		attrs = append(attrs, a)
	}
	return map[string]any{
		"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Schema"},
		"id":      id, "name": name, "attributes": attrs,
		"meta": map[string]any{"resourceType": "Schema", "location": "/scim/v2/Schemas/" + id},
	}
}

// describe says which columns an attribute (or sub-attribute) fills.
func (m *Mapping) describe(at Slot) string {
	var cols []string
	for _, sl := range m.Slots() {
		if sl.Schema == at.Schema && sl.Attr == at.Attr && (at.Sub == "" || at.Sub == sl.Sub) {
			cols = append(cols, m.column[sl]+" ("+sl.String()+")")
		}
	}
	if len(cols) == 0 {
		return "accepted and ignored: no column is mapped from it"
	}
	return "fills column " + strings.Join(cols, ", ") + " of source " + m.Spec.Name
}
