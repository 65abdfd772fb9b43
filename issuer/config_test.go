package issuer_test

import (
	"errors"
	"testing"

	"github.com/qubital/office-router/internal/httpx"
	"github.com/qubital/office-router/issuer"
)

// ALLOWED_ORIGINS is split as the Worker splits it: only ASCII whitespace is trimmed, so an
// entry with a BOM or a U+0085 is refused here as it is there (testdata/vectors/origins.json).
func TestSplitListTrimsLikeTheWorker(t *testing.T) {
	for _, list := range []string{"https://ok.test,\ufeffhttps://a.test", "https://ok.test,\u0085https://a.test"} {
		if _, err := httpx.ParseOrigins(issuer.SplitList(list)); !errors.Is(err, httpx.ErrBadOrigin) {
			t.Errorf("ParseOrigins(SplitList(%q)) = %v, want ErrBadOrigin", list, err)
		}
	}
	got := issuer.SplitList(" https://a.test\t,\r\nhttps://b.test ,, ")
	if len(got) != 2 || got[0] != "https://a.test" || got[1] != "https://b.test" {
		t.Fatalf("SplitList = %q", got)
	}
}
