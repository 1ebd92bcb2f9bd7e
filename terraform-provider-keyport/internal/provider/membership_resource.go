package provider

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/resourcevalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/keyport/terraform-provider-keyport/internal/keyport"
)

type membershipResource struct{ client *keyport.Client }

func newMembershipResource() resource.Resource { return &membershipResource{} }

type membershipModel struct {
	ID            types.String `tfsdk:"id"`
	AccountID     types.String `tfsdk:"account_id"`
	EnvironmentID types.String `tfsdk:"environment_id"`
	Email         types.String `tfsdk:"email"`
	Role          types.String `tfsdk:"role"`
	UserID        types.String `tfsdk:"user_id"`
}

func (r *membershipResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_membership"
}

func (r *membershipResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	keep := []planmodifier.String{stringplanmodifier.UseStateForUnknown()}
	replace := []planmodifier.String{stringplanmodifier.RequiresReplace()}
	resp.Schema = schema.Schema{
		Description: "A user's direct membership of an account or an environment, with a role. The user must exist already (an operator creates users). Destroying it removes the membership; an account keeps at least one admin.",
		Attributes: map[string]schema.Attribute{
			"id":             schema.StringAttribute{Computed: true, Description: "<owner id>/<user id>, e.g. env_…/usr_… (the import id).", PlanModifiers: keep},
			"account_id":     schema.StringAttribute{Optional: true, Description: "The account (acc_…). Exactly one of account_id and environment_id.", PlanModifiers: replace},
			"environment_id": schema.StringAttribute{Optional: true, Description: "The environment (env_…).", PlanModifiers: replace},
			"email":          schema.StringAttribute{Required: true, Description: "The user's email address.", PlanModifiers: replace},
			"role": schema.StringAttribute{
				Required: true, Validators: []validator.String{stringvalidator.OneOf("admin", "member")},
				Description: "admin (administers the owner; an account admin also every environment of the account) or member (sees the owner).",
			},
			"user_id": schema.StringAttribute{Computed: true, Description: "The user's id.", PlanModifiers: keep},
		},
	}
}

func (r *membershipResource) ConfigValidators(_ context.Context) []resource.ConfigValidator {
	return []resource.ConfigValidator{resourcevalidator.ExactlyOneOf(path.MatchRoot("account_id"), path.MatchRoot("environment_id"))}
}

func (r *membershipResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.client = clientFrom(req.ProviderData, &resp.Diagnostics)
}

func (m *membershipModel) owner() string {
	if v := m.EnvironmentID.ValueString(); v != "" {
		return v
	}
	return m.AccountID.ValueString()
}

func setMember(m *membershipModel, owner string, member *keyport.Member) {
	m.ID = types.StringValue(owner + "/" + member.UserID)
	m.UserID = types.StringValue(member.UserID)
	m.Email = types.StringValue(member.Email)
	m.Role = types.StringValue(member.Role)
	if strings.HasPrefix(owner, "env_") {
		m.EnvironmentID, m.AccountID = types.StringValue(owner), types.StringNull()
	} else {
		m.AccountID, m.EnvironmentID = types.StringValue(owner), types.StringNull()
	}
}

func (r *membershipResource) set(ctx context.Context, plan *membershipModel) error {
	member, err := r.client.SetMember(ctx, plan.owner(), plan.Email.ValueString(), plan.Role.ValueString())
	if err != nil {
		return err
	}
	setMember(plan, plan.owner(), member)
	return nil
}

func (r *membershipResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan membershipModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if err := r.set(ctx, &plan); err != nil {
		apiError(&resp.Diagnostics, fmt.Sprintf("adding %s to %s", plan.Email.ValueString(), plan.owner()), err)
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *membershipResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state membershipModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	owner, userID, ok := strings.Cut(state.ID.ValueString(), "/")
	if !ok || owner == "" || userID == "" {
		resp.Diagnostics.AddError("Invalid membership id", fmt.Sprintf("%q is not <account or environment id>/<user id or email>", state.ID.ValueString()))
		return
	}
	members, err := r.client.Members(ctx, owner)
	if keyport.IsNotFound(err) {
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		apiError(&resp.Diagnostics, "reading the members of "+owner, err)
		return
	}
	for i := range members {
		// An import may name the user by email; the state then keeps the user id.
		if members[i].UserID == userID || strings.EqualFold(members[i].Email, userID) {
			setMember(&state, owner, &members[i])
			resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
			return
		}
	}
	resp.State.RemoveResource(ctx)
}

func (r *membershipResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan membershipModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if err := r.set(ctx, &plan); err != nil {
		apiError(&resp.Diagnostics, fmt.Sprintf("changing the role of %s in %s", plan.Email.ValueString(), plan.owner()), err)
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *membershipResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state membershipModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if err := r.client.RemoveMember(ctx, state.owner(), state.UserID.ValueString()); err != nil && !keyport.IsNotFound(err) {
		apiError(&resp.Diagnostics, fmt.Sprintf("removing %s from %s", state.Email.ValueString(), state.owner()), err)
	}
}

func (r *membershipResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	resource.ImportStatePassthroughID(ctx, path.Root("id"), req, resp)
}
