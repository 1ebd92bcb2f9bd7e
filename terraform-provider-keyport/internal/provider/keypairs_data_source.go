package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework-validators/datasourcevalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/keyport/terraform-provider-keyport/internal/keyport"
)

type keypairsDataSource struct{ client *keyport.Client }

func newKeypairsDataSource() datasource.DataSource { return &keypairsDataSource{} }

type keypairsModel struct {
	AccountID     types.String      `tfsdk:"account_id"`
	EnvironmentID types.String      `tfsdk:"environment_id"`
	Status        types.String      `tfsdk:"status"`
	Search        types.String      `tfsdk:"search"`
	Keypairs      []keypairListItem `tfsdk:"keypairs"`
}

type keypairListItem struct {
	KeyID         types.String `tfsdk:"key_id"`
	Name          types.String `tfsdk:"name"`
	Comment       types.String `tfsdk:"comment"`
	Scopes        []string     `tfsdk:"scopes"`
	AccountID     types.String `tfsdk:"account_id"`
	EnvironmentID types.String `tfsdk:"environment_id"`
	Enabled       types.Bool   `tfsdk:"enabled"`
	Locked        types.Bool   `tfsdk:"locked"`
	Status        types.String `tfsdk:"status"`
	CreatedAt     types.String `tfsdk:"created_at"`
}

func (d *keypairsDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_keypairs"
}

func (d *keypairsDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	computed := func(description string) schema.StringAttribute {
		return schema.StringAttribute{Computed: true, Description: description}
	}
	resp.Schema = schema.Schema{
		Description: "The keypairs of an account (its own, not its environments') or of an environment, newest first. Never a secret.",
		Attributes: map[string]schema.Attribute{
			"account_id":     schema.StringAttribute{Optional: true, Description: "List this account's own keypairs. Exactly one of account_id and environment_id."},
			"environment_id": schema.StringAttribute{Optional: true, Description: "List this environment's keypairs."},
			"status": schema.StringAttribute{
				Optional: true, Validators: []validator.String{stringvalidator.OneOf("enabled", "disabled", "locked")},
				Description: "enabled (enabled and not locked), disabled (whether locked or not) or locked (whether enabled or not). Default: all.",
			},
			"search": schema.StringAttribute{Optional: true, Description: "Keep the keypairs whose name starts with it (in any case), or whose key id it is."},
			"keypairs": schema.ListNestedAttribute{
				Computed: true,
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"key_id":         computed("The key id (kp_…)."),
					"name":           computed("The name."),
					"comment":        computed("The comment."),
					"scopes":         schema.ListAttribute{Computed: true, ElementType: types.StringType},
					"account_id":     computed("The account."),
					"environment_id": computed("The environment, or null for an account keypair."),
					"enabled":        schema.BoolAttribute{Computed: true},
					"locked":         schema.BoolAttribute{Computed: true},
					"status":         computed("enabled, disabled or locked."),
					"created_at":     computed("When it was created (RFC 3339)."),
				}},
			},
		},
	}
}

func (d *keypairsDataSource) ConfigValidators(_ context.Context) []datasource.ConfigValidator {
	return []datasource.ConfigValidator{datasourcevalidator.ExactlyOneOf(path.MatchRoot("account_id"), path.MatchRoot("environment_id"))}
}

func (d *keypairsDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.client = clientFrom(req.ProviderData, &resp.Diagnostics)
}

func (d *keypairsDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var config keypairsModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	if resp.Diagnostics.HasError() {
		return
	}
	owner := config.AccountID.ValueString()
	if owner == "" {
		owner = config.EnvironmentID.ValueString()
	}
	keypairs, err := d.client.Keypairs(ctx, owner, config.Status.ValueString(), config.Search.ValueString())
	if err != nil {
		apiError(&resp.Diagnostics, "listing the keypairs of "+owner, err)
		return
	}
	config.Keypairs = make([]keypairListItem, 0, len(keypairs))
	for _, kp := range keypairs {
		config.Keypairs = append(config.Keypairs, keypairListItem{
			KeyID: types.StringValue(kp.KeyID), Name: types.StringValue(kp.Name), Comment: types.StringValue(kp.Comment),
			Scopes: append([]string{}, kp.Scopes...), AccountID: types.StringValue(kp.AccountID), EnvironmentID: types.StringPointerValue(kp.EnvironmentID),
			Enabled: types.BoolValue(kp.Enabled), Locked: types.BoolValue(kp.Locked), Status: types.StringValue(kp.Status), CreatedAt: types.StringValue(kp.CreatedAt),
		})
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &config)...)
}
