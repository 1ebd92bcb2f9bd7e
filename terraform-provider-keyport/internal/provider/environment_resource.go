package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/keyport/terraform-provider-keyport/internal/keyport"
)

type environmentResource struct{ client *keyport.Client }

func newEnvironmentResource() resource.Resource { return &environmentResource{} }

type environmentModel struct {
	ID        types.String `tfsdk:"id"`
	AccountID types.String `tfsdk:"account_id"`
	Name      types.String `tfsdk:"name"`
	Status    types.String `tfsdk:"status"`
	CreatedAt types.String `tfsdk:"created_at"`
}

func (r *environmentResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_environment"
}

func (r *environmentResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	keep := []planmodifier.String{stringplanmodifier.UseStateForUnknown()}
	resp.Schema = schema.Schema{
		Description: "An environment of an account (production, staging, …). Destroying it closes the environment: every keypair it owns is removed, irreversibly.",
		Attributes: map[string]schema.Attribute{
			"id":         schema.StringAttribute{Computed: true, Description: "The environment id (env_…).", PlanModifiers: keep},
			"account_id": schema.StringAttribute{Required: true, Description: "The account (acc_…): the provider keypair's own. Changing it creates a new environment.", PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()}},
			"name":       schema.StringAttribute{Required: true, Description: "The name (1 to 100 characters); renamed in place."},
			"status":     schema.StringAttribute{Computed: true, Description: "active (a closed environment is gone from the state).", PlanModifiers: keep},
			"created_at": schema.StringAttribute{Computed: true, Description: "When it was created (RFC 3339).", PlanModifiers: keep},
		},
	}
}

func (r *environmentResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.client = clientFrom(req.ProviderData, &resp.Diagnostics)
}

func setEnvironment(m *environmentModel, env *keyport.Environment) {
	m.ID = types.StringValue(env.ID)
	m.AccountID = types.StringValue(env.AccountID)
	m.Name = types.StringValue(env.Name)
	m.Status = types.StringValue(env.Status)
	m.CreatedAt = types.StringValue(env.CreatedAt)
}

func (r *environmentResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan environmentModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	env, err := r.client.CreateEnvironment(ctx, plan.AccountID.ValueString(), plan.Name.ValueString())
	if err != nil {
		apiError(&resp.Diagnostics, "creating the environment", err)
		return
	}
	setEnvironment(&plan, env)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *environmentResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state environmentModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	env, err := r.client.Environment(ctx, state.ID.ValueString())
	if keyport.IsNotFound(err) || (err == nil && env.Status != "active") {
		// Closed (or closing) elsewhere: closing cannot be undone, so the next plan creates a new one.
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		apiError(&resp.Diagnostics, "reading environment "+state.ID.ValueString(), err)
		return
	}
	setEnvironment(&state, env)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *environmentResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan environmentModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	env, err := r.client.RenameEnvironment(ctx, plan.ID.ValueString(), plan.Name.ValueString())
	if err != nil {
		apiError(&resp.Diagnostics, "renaming environment "+plan.ID.ValueString(), err)
		return
	}
	setEnvironment(&plan, env)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *environmentResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state environmentModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if err := r.client.CloseEnvironment(ctx, state.ID.ValueString()); err != nil && !keyport.IsNotFound(err) {
		apiError(&resp.Diagnostics, "closing environment "+state.ID.ValueString(), err)
	}
}

func (r *environmentResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	resource.ImportStatePassthroughID(ctx, path.Root("id"), req, resp)
}
