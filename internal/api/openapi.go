package api

import (
	_ "embed"
	"encoding/json"
	"fmt"

	"gopkg.in/yaml.v3"
)

// openapiYAML is the API's OpenAPI 3.1 description, written in YAML for
// reading and served as JSON. TestOpenAPICoverage checks it against the
// routes both ways.
//
//go:embed openapi.yaml
var openapiYAML []byte

func openAPIJSON() ([]byte, error) {
	var doc any
	if err := yaml.Unmarshal(openapiYAML, &doc); err != nil {
		return nil, fmt.Errorf("api: openapi.yaml: %w", err)
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("api: openapi.yaml: %w", err)
	}
	return b, nil
}
