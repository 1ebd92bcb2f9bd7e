package keyport

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// A stand-in for Keyport's token endpoint and one admin API route, to count
// token requests: the live-server behaviour is covered by the acceptance tests.
func fakeKeyport(t *testing.T, expiresIn int, apiStatus func(call int64) int) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var tokens, calls atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("POST /oauth/token", func(w http.ResponseWriter, r *http.Request) {
		id, secret, _ := r.BasicAuth()
		if err := r.ParseForm(); err != nil || r.Form.Get("resource") != AdminAPIResource || r.Form.Get("grant_type") != "client_credentials" {
			w.WriteHeader(400)
			fmt.Fprint(w, `{"error":"invalid_request","error_description":"bad form"}`)
			return
		}
		if id != "kp_test" || secret != "kps_right" {
			w.WriteHeader(401)
			fmt.Fprint(w, `{"error":"invalid_client","error_description":"client authentication failed"}`)
			return
		}
		n := tokens.Add(1)
		fmt.Fprintf(w, `{"access_token":"token-%d","expires_in":%d,"token_type":"Bearer"}`, n, expiresIn)
	})
	mux.HandleFunc("GET /api/v1/accounts", func(w http.ResponseWriter, r *http.Request) {
		status := apiStatus(calls.Add(1))
		if status != 200 {
			w.WriteHeader(status)
			fmt.Fprint(w, `{"error":{"code":"unauthenticated","message":"the access token is not valid for the Keyport admin API","details":{}}}`)
			return
		}
		fmt.Fprintf(w, `{"items":[{"id":"acc_1","name":"%s","status":"active","createdAt":"2026-01-01T00:00:00Z"}]}`, strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
	})
	server := httptest.NewServer(mux)
	t.Cleanup(server.Close)
	return server, &tokens
}

func TestTokenCachedUntilShortlyBeforeExpiry(t *testing.T) {
	ok := func(int64) int { return 200 }
	server, tokens := fakeKeyport(t, 600, ok)
	client := NewClient(server.URL+"/", "kp_test", "kps_right", nil)
	for i := 0; i < 3; i++ {
		accounts, err := client.Accounts(context.Background())
		if err != nil || len(accounts) != 1 || accounts[0].Name != "token-1" {
			t.Fatalf("accounts %+v, %v", accounts, err)
		}
	}
	if tokens.Load() != 1 {
		t.Fatalf("%d token requests for 3 calls, want 1", tokens.Load())
	}

	// A token that expires within the renewal margin is replaced before use.
	server, tokens = fakeKeyport(t, 10, ok)
	client = NewClient(server.URL, "kp_test", "kps_right", nil)
	for i := 0; i < 2; i++ {
		if _, err := client.Accounts(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if tokens.Load() != 2 {
		t.Fatalf("%d token requests, want 2 (the short-lived token renewed)", tokens.Load())
	}
}

func TestRevokedTokenRetriedOnceWithANewOne(t *testing.T) {
	server, tokens := fakeKeyport(t, 600, func(call int64) int {
		if call == 1 {
			return 401
		}
		return 200
	})
	client := NewClient(server.URL, "kp_test", "kps_right", nil)
	accounts, err := client.Accounts(context.Background())
	if err != nil || accounts[0].Name != "token-2" || tokens.Load() != 2 {
		t.Fatalf("accounts %+v, %v, %d tokens", accounts, err, tokens.Load())
	}

	// Still refused with the new token: the admin API's error, not a loop.
	server, _ = fakeKeyport(t, 600, func(int64) int { return 401 })
	client = NewClient(server.URL, "kp_test", "kps_right", nil)
	_, err = client.Accounts(context.Background())
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Status != 401 || apiErr.Code != "unauthenticated" || !strings.Contains(err.Error(), "GET /api/v1/accounts: HTTP 401 unauthenticated") {
		t.Fatalf("error %v", err)
	}
}

func TestTokenEndpointErrorInTheMessage(t *testing.T) {
	server, _ := fakeKeyport(t, 600, func(int64) int { return 200 })
	_, err := NewClient(server.URL, "kp_test", "kps_wrong", nil).Accounts(context.Background())
	if err == nil || !strings.Contains(err.Error(), "HTTP 401 invalid_client: client authentication failed") || strings.Contains(err.Error(), "kps_wrong") {
		t.Fatalf("error %v", err)
	}
}
