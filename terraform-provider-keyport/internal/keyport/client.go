// Package keyport is a small client for Keyport's admin REST API (/api/v1),
// authenticated as an account keypair with the OAuth client credentials grant
// (resource=urn:keyport:admin-api). The access token is cached and renewed
// shortly before it expires, so a plan or apply costs one token request.
package keyport

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// AdminAPIResource is the audience (RFC 8707 resource) of tokens for the admin API.
const AdminAPIResource = "urn:keyport:admin-api"

// renewBefore: a token this close to its expiry is replaced before use, so a
// request never reaches Keyport with a token that expires on the way.
const renewBefore = 30 * time.Second

// Client talks to one Keyport as one keypair.
type Client struct {
	endpoint     string
	clientID     string
	clientSecret string
	scopes       []string
	http         *http.Client

	mu      sync.Mutex
	token   string
	expires time.Time
}

// NewClient returns a client; endpoint is Keyport's issuer URL (e.g. https://keyport.example.com).
func NewClient(endpoint, clientID, clientSecret string, scopes []string) *Client {
	return &Client{
		endpoint:     strings.TrimRight(endpoint, "/"),
		clientID:     clientID,
		clientSecret: clientSecret,
		scopes:       scopes,
		http:         &http.Client{Timeout: 60 * time.Second},
	}
}

// APIError is an error answer of the admin API ({"error":{"code","message","details"}})
// or of the token endpoint ({"error","error_description"}).
type APIError struct {
	Status  int
	Code    string
	Message string
	Details json.RawMessage
	// Request is "METHOD path", for the diagnostic.
	Request string
}

func (e *APIError) Error() string {
	msg := fmt.Sprintf("%s: HTTP %d %s: %s", e.Request, e.Status, e.Code, e.Message)
	if len(e.Details) > 0 && string(e.Details) != "null" && string(e.Details) != "{}" {
		msg += " (details: " + string(e.Details) + ")"
	}
	return msg
}

// IsNotFound says whether err is a 404 of the admin API (gone, or never visible to this keypair).
func IsNotFound(err error) bool {
	var apiErr *APIError
	return errors.As(err, &apiErr) && apiErr.Status == http.StatusNotFound
}

// accessToken returns a cached token, or gets a new one with the client credentials grant.
func (c *Client) accessToken(ctx context.Context, renew bool) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !renew && c.token != "" && time.Until(c.expires) > renewBefore {
		return c.token, nil
	}
	form := url.Values{"grant_type": {"client_credentials"}, "resource": {AdminAPIResource}}
	if len(c.scopes) > 0 {
		form.Set("scope", strings.Join(c.scopes, " "))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint+"/oauth/token", strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.SetBasicAuth(url.QueryEscape(c.clientID), url.QueryEscape(c.clientSecret))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	res, err := c.http.Do(req)
	if err != nil {
		return "", fmt.Errorf("requesting a Keyport access token from %s/oauth/token: %w", c.endpoint, err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if res.StatusCode != http.StatusOK {
		var oauthErr struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		_ = json.Unmarshal(body, &oauthErr)
		if oauthErr.Error == "" {
			oauthErr.Error, oauthErr.Description = "unexpected_response", strings.TrimSpace(string(body))
		}
		return "", &APIError{Status: res.StatusCode, Code: oauthErr.Error, Message: oauthErr.Description, Request: "POST /oauth/token (client credentials for " + c.clientID + ")"}
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if err := json.Unmarshal(body, &tok); err != nil || tok.AccessToken == "" {
		return "", fmt.Errorf("the Keyport token endpoint answered 200 without an access token")
	}
	c.token = tok.AccessToken
	c.expires = time.Now().Add(time.Duration(tok.ExpiresIn) * time.Second)
	return c.token, nil
}

// Do sends one admin API request (path under /api/v1) and decodes a JSON answer into out (unless nil).
// A 401 gets one retry with a new token: the cached one may have been revoked meanwhile.
func (c *Client) Do(ctx context.Context, method, path string, in, out any) error {
	for attempt := 0; ; attempt++ {
		token, err := c.accessToken(ctx, attempt > 0)
		if err != nil {
			return err
		}
		status, body, err := c.send(ctx, method, path, token, in)
		if err != nil {
			return err
		}
		if status == http.StatusUnauthorized && attempt == 0 {
			continue
		}
		if status >= 300 {
			return decodeError(method+" /api/v1"+path, status, body)
		}
		if out != nil && len(body) > 0 {
			if err := json.Unmarshal(body, out); err != nil {
				return fmt.Errorf("%s /api/v1%s: unexpected answer: %w", method, path, err)
			}
		}
		return nil
	}
}

func (c *Client) send(ctx context.Context, method, path, token string, in any) (int, []byte, error) {
	var reader io.Reader
	if in != nil {
		encoded, err := json.Marshal(in)
		if err != nil {
			return 0, nil, err
		}
		reader = bytes.NewReader(encoded)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.endpoint+"/api/v1"+path, reader)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.http.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s/api/v1%s: %w", method, c.endpoint, path, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 16<<20))
	return res.StatusCode, body, err
}

func decodeError(request string, status int, body []byte) error {
	var answer struct {
		Error struct {
			Code    string          `json:"code"`
			Message string          `json:"message"`
			Details json.RawMessage `json:"details"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &answer); err != nil || answer.Error.Code == "" {
		text := strings.TrimSpace(string(body))
		if len(text) > 300 {
			text = text[:300] + "…"
		}
		return &APIError{Status: status, Code: "unexpected_response", Message: text, Request: request}
	}
	return &APIError{Status: status, Code: answer.Error.Code, Message: answer.Error.Message, Details: answer.Error.Details, Request: request}
}
