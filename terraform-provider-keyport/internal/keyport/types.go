package keyport

import (
	"context"
	"net/url"
	"strconv"
)

type Account struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Status    string `json:"status"`
	CreatedAt string `json:"createdAt"`
}

type Environment struct {
	ID        string `json:"id"`
	AccountID string `json:"accountId"`
	Name      string `json:"name"`
	Status    string `json:"status"`
	CreatedAt string `json:"createdAt"`
}

type Keypair struct {
	KeyID         string   `json:"keyId"`
	Name          string   `json:"name"`
	Comment       string   `json:"comment"`
	Scopes        []string `json:"scopes"`
	OwnerType     string   `json:"ownerType"`
	AccountID     string   `json:"accountId"`
	EnvironmentID *string  `json:"environmentId"`
	Status        string   `json:"status"`
	Enabled       bool     `json:"enabled"`
	Locked        bool     `json:"locked"`
	CreatedAt     string   `json:"createdAt"`
	LastRotatedAt *string  `json:"lastRotatedAt"`
}

type IssuedKeypair struct {
	Keypair Keypair `json:"keypair"`
	Secret  string  `json:"secret"`
}

type Member struct {
	UserID        string  `json:"userId"`
	Email         string  `json:"email"`
	Role          string  `json:"role"`
	AccountID     string  `json:"accountId"`
	EnvironmentID *string `json:"environmentId"`
}

type KeypairInput struct {
	Name    *string   `json:"name,omitempty"`
	Comment *string   `json:"comment,omitempty"`
	Scopes  *[]string `json:"scopes,omitempty"`
}

// OwnerPath is the API path of an account (acc_…) or an environment (env_…).
func OwnerPath(ownerID string) string {
	if len(ownerID) > 4 && ownerID[:4] == "env_" {
		return "/environments/" + url.PathEscape(ownerID)
	}
	return "/accounts/" + url.PathEscape(ownerID)
}

func (c *Client) Accounts(ctx context.Context) ([]Account, error) {
	var out struct {
		Items []Account `json:"items"`
	}
	err := c.Do(ctx, "GET", "/accounts", nil, &out)
	return out.Items, err
}

func (c *Client) Account(ctx context.Context, id string) (*Account, error) {
	var out Account
	return &out, c.Do(ctx, "GET", "/accounts/"+url.PathEscape(id), nil, &out)
}

func (c *Client) Environment(ctx context.Context, id string) (*Environment, error) {
	var out Environment
	return &out, c.Do(ctx, "GET", "/environments/"+url.PathEscape(id), nil, &out)
}

func (c *Client) CreateEnvironment(ctx context.Context, accountID, name string) (*Environment, error) {
	var out Environment
	return &out, c.Do(ctx, "POST", "/accounts/"+url.PathEscape(accountID)+"/environments", map[string]string{"name": name}, &out)
}

func (c *Client) RenameEnvironment(ctx context.Context, id, name string) (*Environment, error) {
	var out Environment
	return &out, c.Do(ctx, "PATCH", "/environments/"+url.PathEscape(id), map[string]string{"name": name}, &out)
}

func (c *Client) CloseEnvironment(ctx context.Context, id string) error {
	return c.Do(ctx, "POST", "/environments/"+url.PathEscape(id)+"/close", map[string]string{}, nil)
}

func (c *Client) Keypair(ctx context.Context, keyID string) (*Keypair, error) {
	var out Keypair
	return &out, c.Do(ctx, "GET", "/keypairs/"+url.PathEscape(keyID), nil, &out)
}

func (c *Client) CreateKeypair(ctx context.Context, ownerID string, in KeypairInput) (*IssuedKeypair, error) {
	var out IssuedKeypair
	return &out, c.Do(ctx, "POST", OwnerPath(ownerID)+"/keypairs", in, &out)
}

func (c *Client) UpdateKeypair(ctx context.Context, keyID string, in KeypairInput) (*Keypair, error) {
	var out Keypair
	return &out, c.Do(ctx, "PATCH", "/keypairs/"+url.PathEscape(keyID), in, &out)
}

// SetKeypairEnabled enables or disables a keypair (disabling revokes its tokens for good).
func (c *Client) SetKeypairEnabled(ctx context.Context, keyID string, enabled bool) (*Keypair, error) {
	action := "disable"
	if enabled {
		action = "enable"
	}
	var out Keypair
	return &out, c.Do(ctx, "POST", "/keypairs/"+url.PathEscape(keyID)+"/"+action, map[string]string{}, &out)
}

// RotateKeypair issues a new secret; the old one keeps working for grace ("0", "1h", … "72h").
func (c *Client) RotateKeypair(ctx context.Context, keyID, grace string) (*IssuedKeypair, error) {
	var out IssuedKeypair
	return &out, c.Do(ctx, "POST", "/keypairs/"+url.PathEscape(keyID)+"/rotate", map[string]string{"grace": grace}, &out)
}

func (c *Client) DeleteKeypair(ctx context.Context, keyID string) error {
	return c.Do(ctx, "DELETE", "/keypairs/"+url.PathEscape(keyID), nil, nil)
}

// Keypairs lists every keypair of an owner (all pages, following the "next" cursors), optionally filtered by status and name prefix.
func (c *Client) Keypairs(ctx context.Context, ownerID, status, query string) ([]Keypair, error) {
	const pageSize = 100
	var all []Keypair
	cursor := ""
	for {
		params := url.Values{"limit": {strconv.Itoa(pageSize)}}
		if status != "" {
			params.Set("status", status)
		}
		if query != "" {
			params.Set("q", query)
		}
		if cursor != "" {
			params.Set("cursor", cursor)
		}
		var page struct {
			Items []Keypair `json:"items"`
			Next  *string   `json:"next"`
		}
		if err := c.Do(ctx, "GET", OwnerPath(ownerID)+"/keypairs?"+params.Encode(), nil, &page); err != nil {
			return nil, err
		}
		all = append(all, page.Items...)
		if page.Next == nil || *page.Next == "" {
			return all, nil
		}
		cursor = *page.Next
	}
}

func (c *Client) Members(ctx context.Context, ownerID string) ([]Member, error) {
	var out struct {
		Items []Member `json:"items"`
	}
	err := c.Do(ctx, "GET", OwnerPath(ownerID)+"/members", nil, &out)
	return out.Items, err
}

// SetMember adds a user (by email) to an owner with a role, or changes their role.
func (c *Client) SetMember(ctx context.Context, ownerID, email, role string) (*Member, error) {
	var out Member
	return &out, c.Do(ctx, "POST", OwnerPath(ownerID)+"/members", map[string]string{"email": email, "role": role}, &out)
}

func (c *Client) RemoveMember(ctx context.Context, ownerID, userID string) error {
	return c.Do(ctx, "DELETE", OwnerPath(ownerID)+"/members/"+url.PathEscape(userID), nil, nil)
}

// Webhook is a webhook endpoint of an account (never its signing secret).
type Webhook struct {
	ID          string   `json:"id"`
	AccountID   string   `json:"accountId"`
	URL         string   `json:"url"`
	Description string   `json:"description"`
	SecretHint  string   `json:"secretHint"`
	Events      []string `json:"events"`
	CreatedAt   string   `json:"createdAt"`
	CreatedBy   string   `json:"createdBy"`
}

// IssuedWebhook is a new endpoint with its signing secret, shown this once.
type IssuedWebhook struct {
	Webhook Webhook `json:"webhook"`
	Secret  string  `json:"secret"`
}

func (c *Client) Webhook(ctx context.Context, id string) (*Webhook, error) {
	var out Webhook
	return &out, c.Do(ctx, "GET", "/webhooks/"+url.PathEscape(id), nil, &out)
}

// CreateWebhook adds an endpoint; Keyport checks the URL (https on a public address unless its settings allow more).
func (c *Client) CreateWebhook(ctx context.Context, accountID, endpointURL, description string) (*IssuedWebhook, error) {
	var out IssuedWebhook
	in := map[string]string{"url": endpointURL, "description": description}
	return &out, c.Do(ctx, "POST", "/accounts/"+url.PathEscape(accountID)+"/webhooks", in, &out)
}

func (c *Client) DeleteWebhook(ctx context.Context, id string) error {
	return c.Do(ctx, "DELETE", "/webhooks/"+url.PathEscape(id), nil, nil)
}
