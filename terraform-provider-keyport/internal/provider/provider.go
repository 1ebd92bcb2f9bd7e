// Package provider is the Keyport provider for OpenTofu and Terraform
// (terraform-plugin-framework): resources keyport_environment, keyport_keypair,
// keyport_membership and keyport_webhook; data sources keyport_account and keyport_keypairs.
package provider

import (
	"context"
	"fmt"
	"net/url"
	"os"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/keyport/terraform-provider-keyport/internal/keyport"
)

type keyportProvider struct{ version string }

// New returns the provider factory for providerserver.Serve and the acceptance tests.
func New(version string) func() provider.Provider {
	return func() provider.Provider { return &keyportProvider{version: version} }
}

type providerModel struct {
	Endpoint     types.String `tfsdk:"endpoint"`
	ClientID     types.String `tfsdk:"client_id"`
	ClientSecret types.String `tfsdk:"client_secret"`
	Scopes       types.List   `tfsdk:"scopes"`
}

func (p *keyportProvider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "keyport"
	resp.Version = p.version
}

func (p *keyportProvider) Schema(_ context.Context, _ provider.SchemaRequest, resp *provider.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "Manages Keyport environments, keypairs, memberships and webhook endpoints through Keyport's admin API, as an account keypair (client credentials, resource=urn:keyport:admin-api).",
		Attributes: map[string]schema.Attribute{
			"endpoint": schema.StringAttribute{
				Optional:    true,
				Description: "Keyport's URL (its issuer, e.g. https://keyport.example.com). Default: the KEYPORT_URL environment variable.",
			},
			"client_id": schema.StringAttribute{
				Optional:    true,
				Description: "The key id (kp_…) of an account keypair holding keyport:admin (or keyport:manage for keypairs only). Default: KEYPORT_CLIENT_ID.",
			},
			"client_secret": schema.StringAttribute{
				Optional:    true,
				Sensitive:   true,
				Description: "That keypair's secret (kps_…). Default: KEYPORT_CLIENT_SECRET.",
			},
			"scopes": schema.ListAttribute{
				Optional:    true,
				ElementType: types.StringType,
				Description: "The scopes to request. Default: none named, so the token carries every scope of the keypair.",
			},
		},
	}
}

func (p *keyportProvider) Configure(ctx context.Context, req provider.ConfigureRequest, resp *provider.ConfigureResponse) {
	var config providerModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	if resp.Diagnostics.HasError() {
		return
	}
	setting := func(value types.String, env, attribute string) string {
		if value.IsUnknown() {
			resp.Diagnostics.AddAttributeError(path.Root(attribute), "Unknown "+attribute, "The provider's "+attribute+" must be known when planning; set it from a variable or "+env+".")
			return ""
		}
		if !value.IsNull() && value.ValueString() != "" {
			return value.ValueString()
		}
		v := os.Getenv(env)
		if v == "" {
			resp.Diagnostics.AddAttributeError(path.Root(attribute), "Missing "+attribute, "Set the provider's "+attribute+" or the "+env+" environment variable.")
		}
		return v
	}
	endpoint := setting(config.Endpoint, "KEYPORT_URL", "endpoint")
	clientID := setting(config.ClientID, "KEYPORT_CLIENT_ID", "client_id")
	clientSecret := setting(config.ClientSecret, "KEYPORT_CLIENT_SECRET", "client_secret")
	if resp.Diagnostics.HasError() {
		return
	}
	if u, err := url.Parse(endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		resp.Diagnostics.AddAttributeError(path.Root("endpoint"), "Invalid endpoint", fmt.Sprintf("%q is not an http:// or https:// URL (Keyport's issuer URL).", endpoint))
		return
	}
	var scopes []string
	if !config.Scopes.IsNull() && !config.Scopes.IsUnknown() {
		resp.Diagnostics.Append(config.Scopes.ElementsAs(ctx, &scopes, false)...)
	}
	client := keyport.NewClient(endpoint, clientID, clientSecret, scopes)
	resp.ResourceData = client
	resp.DataSourceData = client
}

func (p *keyportProvider) Resources(_ context.Context) []func() resource.Resource {
	return []func() resource.Resource{newEnvironmentResource, newKeypairResource, newMembershipResource, newWebhookResource}
}

func (p *keyportProvider) DataSources(_ context.Context) []func() datasource.DataSource {
	return []func() datasource.DataSource{newAccountDataSource, newKeypairsDataSource}
}

// clientFrom takes the client handed over by Configure (nil while validating, before Configure).
func clientFrom(data any, diags *diag.Diagnostics) *keyport.Client {
	if data == nil {
		return nil
	}
	client, ok := data.(*keyport.Client)
	if !ok {
		diags.AddError("Unexpected provider data", fmt.Sprintf("expected *keyport.Client, got %T", data))
	}
	return client
}

// apiError turns a client error into a diagnostic that names what was being done.
func apiError(diags *diag.Diagnostics, what string, err error) {
	diags.AddError("Keyport: "+what, err.Error())
}
