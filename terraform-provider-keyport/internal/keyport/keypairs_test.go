package keyport

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

// Keyport counts a list's total only up to 1000 ("totalIsExact": false past it):
// the client must follow "next" to the end, not stop at "total".
func TestKeypairsFollowsCursorsPastTheCountedTotal(t *testing.T) {
	const keypairs = 1234
	mux := http.NewServeMux()
	mux.HandleFunc("POST /oauth/token", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"access_token":"t","expires_in":600,"token_type":"Bearer"}`)
	})
	mux.HandleFunc("GET /api/v1/environments/env_1/keypairs", func(w http.ResponseWriter, r *http.Request) {
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		from := 0
		if c := r.URL.Query().Get("cursor"); c != "" {
			from, _ = strconv.Atoi(strings.TrimPrefix(c, "after-"))
		}
		if r.URL.Query().Get("status") != "enabled" || limit < 1 {
			w.WriteHeader(400)
			return
		}
		to := min(from+limit, keypairs)
		items := make([]string, 0, to-from)
		for i := from; i < to; i++ {
			items = append(items, fmt.Sprintf(`{"keyId":"kp_%d","name":"n%d","scopes":[]}`, i, i))
		}
		next := "null"
		if to < keypairs {
			next = fmt.Sprintf(`"after-%d"`, to)
		}
		fmt.Fprintf(w, `{"items":[%s],"total":1000,"totalIsExact":false,"limit":%d,"offset":0,"next":%s,"previous":null}`, strings.Join(items, ","), limit, next)
	})
	server := httptest.NewServer(mux)
	t.Cleanup(server.Close)
	client := NewClient(server.URL, "kp_test", "kps_right", nil)
	all, err := client.Keypairs(context.Background(), "env_1", "enabled", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != keypairs || all[0].KeyID != "kp_0" || all[keypairs-1].KeyID != fmt.Sprintf("kp_%d", keypairs-1) {
		t.Fatalf("got %d keypairs, want %d in order", len(all), keypairs)
	}
}
