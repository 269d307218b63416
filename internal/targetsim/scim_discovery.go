package targetsim

import (
	"encoding/json"
	"net/http"
	"strings"
)

// The discovery documents (RFC 7644 §4) are generated from the same schema
// definitions that validate requests.

type schemaAttrDoc struct {
	Name            string          `json:"name"`
	Type            attrType        `json:"type"`
	MultiValued     bool            `json:"multiValued"`
	Required        bool            `json:"required"`
	CaseExact       bool            `json:"caseExact"`
	Mutability      string          `json:"mutability"`
	Returned        string          `json:"returned"`
	Uniqueness      string          `json:"uniqueness"`
	ReferenceTypes  []string        `json:"referenceTypes,omitempty"`
	CanonicalValues []string        `json:"canonicalValues,omitempty"`
	SubAttributes   []schemaAttrDoc `json:"subAttributes,omitempty"`
}

func attrDocs(defs []*attrDef) []schemaAttrDoc {
	out := make([]schemaAttrDoc, 0, len(defs))
	for _, d := range defs {
		out = append(out, schemaAttrDoc{
			Name: d.Name, Type: d.Type, MultiValued: d.Multi, Required: d.Required, CaseExact: d.CaseExact,
			Mutability: d.Mutability, Returned: d.Returned, Uniqueness: d.Uniqueness,
			ReferenceTypes: d.RefTypes, CanonicalValues: d.Canonical, SubAttributes: attrDocs(d.Sub),
		})
	}
	return out
}

func (s *SCIM) schemaDoc(sd *schemaDef) map[string]any {
	return map[string]any{
		"schemas":     []string{"urn:ietf:params:scim:schemas:core:2.0:Schema"},
		"id":          sd.ID,
		"name":        sd.Name,
		"description": sd.Description,
		"attributes":  attrDocs(s.schemaAttrs(sd)),
		"meta":        map[string]string{"resourceType": "Schema", "location": s.sim.URL() + scimPrefix + "/Schemas/" + sd.ID},
	}
}

func (s *SCIM) resourceTypeDoc(rt *resourceType) map[string]any {
	exts := make([]map[string]any, 0, len(rt.exts))
	for _, e := range rt.exts {
		exts = append(exts, map[string]any{"schema": e.ID, "required": false})
	}
	return map[string]any{
		"schemas":          []string{"urn:ietf:params:scim:schemas:core:2.0:ResourceType"},
		"id":               rt.Name,
		"name":             rt.Name,
		"endpoint":         rt.Endpoint,
		"schema":           rt.core.ID,
		"schemaExtensions": exts,
		"meta":             map[string]string{"resourceType": "ResourceType", "location": s.sim.URL() + scimPrefix + "/ResourceTypes/" + rt.Name},
	}
}

func (s *SCIM) serviceProviderConfig() map[string]any {
	return map[string]any{
		"schemas":          []string{"urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"},
		"documentationUri": "https://datatracker.ietf.org/doc/html/rfc7644",
		"patch":            map[string]any{"supported": true},
		"bulk":             s.bulkDoc(),
		"filter":           map[string]any{"supported": true, "maxResults": s.maxResults},
		"changePassword":   map[string]any{"supported": false},
		"sort":             map[string]any{"supported": false},
		"etag":             map[string]any{"supported": true},
		"authenticationSchemes": []map[string]any{{
			"type": "oauthbearertoken", "name": "OAuth Bearer Token",
			"description": "Authentication with a bearer token", "primary": true,
		}},
		"meta": map[string]string{"resourceType": "ServiceProviderConfig", "location": s.sim.URL() + scimPrefix + "/ServiceProviderConfig"},
	}
}

func (s *SCIM) serveDiscovery(w http.ResponseWriter, endpoint, id string) {
	var docs []map[string]any
	switch endpoint {
	case "ServiceProviderConfig":
		if id != "" {
			writeSCIMError(w, scimErr(http.StatusNotFound, "", "no such endpoint"))
			return
		}
		writeDoc(w, s.serviceProviderConfig())
		return
	case "Schemas":
		for _, sd := range []*schemaDef{userSchema, groupSchema, enterpriseSchema} {
			docs = append(docs, s.schemaDoc(sd))
		}
	case "ResourceTypes":
		for _, rt := range []*resourceType{userType, groupType} {
			docs = append(docs, s.resourceTypeDoc(rt))
		}
	}
	if id != "" {
		for _, d := range docs {
			if strings.EqualFold(d["id"].(string), id) {
				writeDoc(w, d)
				return
			}
		}
		writeSCIMError(w, scimErr(http.StatusNotFound, "", "%s %q not found", endpoint, id))
		return
	}
	writeDoc(w, map[string]any{
		"schemas":      []string{msgList},
		"totalResults": len(docs),
		"itemsPerPage": len(docs),
		"startIndex":   1,
		"Resources":    docs,
	})
}

func writeDoc(w http.ResponseWriter, doc any) {
	b, err := json.Marshal(doc)
	if err != nil {
		writeSCIMError(w, err)
		return
	}
	writeResource(w, http.StatusOK, b, "", "")
}

func (s *SCIM) bulkDoc() map[string]any {
	if !s.bulk.Supported {
		return map[string]any{"supported": false, "maxOperations": 0, "maxPayloadSize": 0}
	}
	return map[string]any{"supported": true, "maxOperations": s.bulk.MaxOperations, "maxPayloadSize": s.bulk.MaxPayloadSize}
}
