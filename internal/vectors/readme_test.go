package vectors

import (
	"encoding/json"
	"os"
	"regexp"
	"strconv"
	"testing"
)

// TestREADMEVectorCounts: the README's table names each vector file with its count of cases; the
// counts must be the files'. Issue 16 added 55 service-route tokens and a disconnect file, and the
// table still said 133 tokens and 66 publish bodies, with no disconnect.json.
func TestREADMEVectorCounts(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	named := map[string]bool{}
	for _, m := range regexp.MustCompile("`([a-z]+)\\.json`: (\\d+)").FindAllSubmatch(readme, -1) {
		name, said := string(m[1]), string(m[2])
		named[name] = true
		raw, err := os.ReadFile("../../testdata/vectors/" + name + ".json")
		if err != nil {
			t.Fatalf("README.md counts %s.json: %v", name, err)
		}
		var f struct {
			Cases []json.RawMessage `json:"cases"`
		}
		if err := json.Unmarshal(raw, &f); err != nil {
			t.Fatalf("%s.json: %v", name, err)
		}
		if got, _ := strconv.Atoi(said); got != len(f.Cases) {
			t.Errorf("README.md says %s.json has %s cases; it has %d", name, said, len(f.Cases))
		}
	}
	for _, name := range []string{"handshake", "publish", "disconnect", "origins"} {
		if !named[name] {
			t.Errorf("README.md's table does not count %s.json", name)
		}
	}
}
