package jwksfresh_test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/qubital/office-router/internal/jwksfresh"
	"github.com/qubital/office-router/internal/rsakey"
)

func genKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func jwksOf(keys ...*rsa.PrivateKey) []byte {
	var set struct {
		Keys []rsakey.JWK `json:"keys"`
	}
	for _, k := range keys {
		set.Keys = append(set.Keys, rsakey.PublicJWK(&k.PublicKey))
	}
	b, _ := json.Marshal(set)
	return b
}

// TestSetNewerFetchWins: a periodic fetch that started before a key was published, and answers
// after an unknown-kid fetch installed it, must not take the key away again.
func TestSetNewerFetchWins(t *testing.T) {
	oldKey, newKey := genKey(t), genKey(t)
	var serving atomic.Value
	serving.Store(jwksOf(oldKey))
	var n atomic.Int64
	periodicArrived := make(chan []byte, 1) // the set the slow periodic fetch will answer with
	releasePeriodic := make(chan struct{})
	laterPeriodic := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch n.Add(1) {
		case 1, 3: // the fetch at start; the unknown-kid fetch
			_, _ = w.Write(serving.Load().([]byte))
		case 2: // the first periodic fetch: answers late, with what was published when it arrived
			body := serving.Load().([]byte)
			periodicArrived <- body
			select {
			case <-releasePeriodic:
			case <-r.Context().Done():
				return
			}
			_, _ = w.Write(body)
		default: // the next periodic fetch: fetch 2 has been handled; hold until the test ends
			select {
			case laterPeriodic <- struct{}{}:
			default:
			}
			<-r.Context().Done()
		}
	}))
	defer srv.Close()
	set := jwksfresh.Start(jwksfresh.Options{URL: srv.URL, Refresh: 10 * time.Millisecond,
		UnknownKIDInterval: time.Hour, Timeout: 10 * time.Second})
	defer set.Close()
	defer srv.CloseClientConnections()

	<-periodicArrived // fetch 2 holds the old set
	serving.Store(jwksOf(oldKey, newKey))
	newKID := rsakey.Thumbprint(&newKey.PublicKey)
	if _, err := set.Lookup(t.Context(), newKID); err != nil {
		t.Fatalf("new kid after its unknown-kid fetch: %v", err)
	}
	close(releasePeriodic)
	<-laterPeriodic
	waited := false
	set.SetWaitHook(func() { waited = true })
	if _, err := set.Lookup(t.Context(), newKID); err != nil || waited {
		t.Fatalf("new kid after the older fetch answered: err %v, waited %v", err, waited)
	}
	if _, err := set.Lookup(t.Context(), "forged"); !errors.Is(err, jwksfresh.ErrUnknownKID) {
		t.Fatalf("forged kid: %v", err)
	}
}
