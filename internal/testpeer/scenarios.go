package testpeer

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// scenarioFS holds the SIPp scenario files of this package (read-only).
//
//go:embed scenarios/*.xml
var scenarioFS embed.FS

// isSIPpBuiltin reports whether name is a scenario embedded in SIPp 3.6.1
// itself (-sn).
func isSIPpBuiltin(name string) bool {
	switch name {
	case "uac", "uas", "regexp", "3pcc-C-A", "3pcc-C-B", "3pcc-A", "3pcc-B",
		"branchc", "branchs", "uac_pcap", "ooc_default":
		return true
	}
	return false
}

// Scenarios lists the names (without .xml) of the scenario files shipped
// with this package.
func Scenarios() []string {
	entries, err := fs.ReadDir(scenarioFS, "scenarios")
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		out = append(out, strings.TrimSuffix(e.Name(), ".xml"))
	}
	return out
}

// ScenarioXML returns the text of a scenario shipped with this package.
func ScenarioXML(name string) ([]byte, error) {
	name = strings.TrimSuffix(name, ".xml")
	b, err := scenarioFS.ReadFile("scenarios/" + name + ".xml")
	if err != nil {
		return nil, fmt.Errorf("testpeer: no scenario %q: %w", name, err)
	}
	return b, nil
}

// resolveScenario turns SIPpOptions.Scenario into SIPp arguments (-sn NAME
// or -sf FILE) and the scenario text (nil for SIPp built-ins). Package
// scenarios are written into dir so that SIPp's relative paths (play.pcap,
// pcap/) resolve there.
func resolveScenario(scenario, dir string) ([]string, []byte, error) {
	if scenario == "" {
		scenario = "uac"
	}
	if isSIPpBuiltin(scenario) {
		return []string{"-sn", scenario}, nil, nil
	}
	if strings.ContainsRune(scenario, os.PathSeparator) || fileExists(scenario) {
		abs, err := filepath.Abs(scenario)
		if err != nil {
			return nil, nil, fmt.Errorf("testpeer: scenario path: %w", err)
		}
		b, err := os.ReadFile(abs)
		if err != nil {
			return nil, nil, fmt.Errorf("testpeer: read scenario: %w", err)
		}
		return []string{"-sf", abs}, b, nil
	}
	b, err := ScenarioXML(scenario)
	if err != nil {
		return nil, nil, err
	}
	path := filepath.Join(dir, strings.TrimSuffix(scenario, ".xml")+".xml")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return nil, nil, fmt.Errorf("testpeer: write scenario: %w", err)
	}
	return []string{"-sf", path}, b, nil
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}
