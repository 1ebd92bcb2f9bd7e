package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/keyport/terraform-provider-keyport/internal/keyport"
)

type accountDataSource struct{ client *keyport.Client }

func newAccountDataSource() datasource.DataSource { return &accountDataSource{} }

type accountModel struct {
	ID           types.String `tfsdk:"id"`
	Name         types.String `tfsdk:"name"`
	Status       types.String `tfsdk:"status"`
	CreatedAt    types.String `tfsdk:"created_at"`
	Environments types.List   `tfsdk:"environments"`
}

type accountEnvironment struct {
	ID     string `tfsdk:"id"`
	Name   string `tfsdk:"name"`
	Status string `tfsdk:"status"`
}

func (d *accountDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_account"
}

func (d *accountDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "An account: by default the provider keypair's own.",
		Attributes: map[string]schema.Attribute{
			"id":         schema.StringAttribute{Optional: true, Computed: true, Description: "The account id (acc_…). Default: the account of the provider's keypair."},
			"name":       schema.StringAttribute{Computed: true, Description: "The account's name."},
			"status":     schema.StringAttribute{Computed: true, Description: "active, closing or closed."},
			"created_at": schema.StringAttribute{Computed: true, Description: "When it was created (RFC 3339)."},
			"environments": schema.ListNestedAttribute{
				Computed:    true,
				Description: "The account's environments.",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"id":     schema.StringAttribute{Computed: true},
					"name":   schema.StringAttribute{Computed: true},
					"status": schema.StringAttribute{Computed: true},
				}},
			},
		},
	}
}

func (d *accountDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.client = clientFrom(req.ProviderData, &resp.Diagnostics)
}

func (d *accountDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var config accountModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	if resp.Diagnostics.HasError() {
		return
	}
	var account *keyport.Account
	if id := config.ID.ValueString(); id != "" {
		a, err := d.client.Account(ctx, id)
		if err != nil {
			apiError(&resp.Diagnostics, "reading account "+id, err)
			return
		}
		account = a
	} else {
		accounts, err := d.client.Accounts(ctx)
		if err != nil {
			apiError(&resp.Diagnostics, "reading the provider keypair's account", err)
			return
		}
		if len(accounts) != 1 {
			resp.Diagnostics.AddError("Keyport: which account?", "the provider's credentials reach more than one account (or none); set id")
			return
		}
		account = &accounts[0]
	}
	var envs []keyport.Environment
	if err := d.client.Do(ctx, "GET", "/accounts/"+account.ID+"/environments", nil, &struct {
		Items *[]keyport.Environment `json:"items"`
	}{&envs}); err != nil {
		apiError(&resp.Diagnostics, "listing the environments of "+account.ID, err)
		return
	}
	list := make([]accountEnvironment, 0, len(envs))
	for _, e := range envs {
		list = append(list, accountEnvironment{ID: e.ID, Name: e.Name, Status: e.Status})
	}
	state := accountModel{ID: types.StringValue(account.ID), Name: types.StringValue(account.Name), Status: types.StringValue(account.Status), CreatedAt: types.StringValue(account.CreatedAt)}
	environments, diags := types.ListValueFrom(ctx, types.ObjectType{AttrTypes: map[string]attrType{"id": types.StringType, "name": types.StringType, "status": types.StringType}}, list)
	resp.Diagnostics.Append(diags...)
	state.Environments = environments
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}
