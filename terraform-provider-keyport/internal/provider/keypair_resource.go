package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework-validators/resourcevalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/setdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/keyport/terraform-provider-keyport/internal/keyport"
)

// GraceChoices are the grace periods Keyport offers for a rotation (the old secret keeps working that long).
var GraceChoices = []string{"0", "1h", "3h", "24h", "48h", "72h"}

const defaultGrace = "24h"

type keypairResource struct{ client *keyport.Client }

func newKeypairResource() resource.Resource { return &keypairResource{} }

type keypairModel struct {
	ID            types.String `tfsdk:"id"`
	KeyID         types.String `tfsdk:"key_id"`
	AccountID     types.String `tfsdk:"account_id"`
	EnvironmentID types.String `tfsdk:"environment_id"`
	Name          types.String `tfsdk:"name"`
	Comment       types.String `tfsdk:"comment"`
	Scopes        types.Set    `tfsdk:"scopes"`
	Enabled       types.Bool   `tfsdk:"enabled"`
	Rotation      types.Object `tfsdk:"rotation"`
	Secret        types.String `tfsdk:"secret"`
	Status        types.String `tfsdk:"status"`
	Locked        types.Bool   `tfsdk:"locked"`
	CreatedAt     types.String `tfsdk:"created_at"`
	LastRotatedAt types.String `tfsdk:"last_rotated_at"`
}

type rotationModel struct {
	Trigger types.String `tfsdk:"trigger"`
	Grace   types.String `tfsdk:"grace"`
}

func (r *keypairResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_keypair"
}

func (r *keypairResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	keep := []planmodifier.String{stringplanmodifier.UseStateForUnknown()}
	replace := []planmodifier.String{stringplanmodifier.RequiresReplace()}
	resp.Schema = schema.Schema{
		Description: "An API keypair (key id + secret) of an account or an environment. Destroying it removes the keypair irreversibly: its secret stops working and its tokens introspect inactive (the audit trail stays).",
		Attributes: map[string]schema.Attribute{
			"id":             schema.StringAttribute{Computed: true, Description: "The key id (kp_…).", PlanModifiers: keep},
			"key_id":         schema.StringAttribute{Computed: true, Description: "The key id (kp_…): the OAuth client_id.", PlanModifiers: keep},
			"account_id":     schema.StringAttribute{Optional: true, Description: "The owner, when it is an account (acc_…). Exactly one of account_id and environment_id; changing the owner replaces the keypair.", PlanModifiers: replace},
			"environment_id": schema.StringAttribute{Optional: true, Description: "The owner, when it is an environment (env_…).", PlanModifiers: replace},
			"name":           schema.StringAttribute{Required: true, Description: "The name (1 to 100 characters)."},
			"comment":        schema.StringAttribute{Optional: true, Computed: true, Default: stringdefault.StaticString(""), Description: "A free comment (up to 1000 characters)."},
			"scopes": schema.SetAttribute{
				Optional: true, Computed: true, ElementType: types.StringType,
				Default:     setdefault.StaticValue(types.SetValueMust(types.StringType, []attr.Value{})),
				Description: "The scopes the keypair may request; a change applies to new tokens.",
			},
			"enabled": schema.BoolAttribute{
				Optional: true, Computed: true, Default: booldefault.StaticBool(true),
				Description: "false disables the keypair: no new tokens, and the tokens issued so far are revoked for good (enabling again does not revive them). A keypair disabled in the web UI shows as a change in the next plan.",
			},
			"rotation": schema.SingleNestedAttribute{
				Optional:    true,
				Description: "Rotation trigger: changing `trigger` (any value, e.g. a date) issues a new secret, stored in `secret`; the old secret keeps working for `grace`.",
				Attributes: map[string]schema.Attribute{
					"trigger": schema.StringAttribute{Required: true, Description: "Any value; each change rotates the secret."},
					"grace": schema.StringAttribute{
						Optional: true, Computed: true, Default: stringdefault.StaticString(defaultGrace),
						Validators:  []validator.String{stringvalidator.OneOf(GraceChoices...)},
						Description: "How long the old secret keeps working after a rotation: 0, 1h, 3h, 24h (default), 48h or 72h.",
					},
				},
			},
			"secret": schema.StringAttribute{
				Computed: true, Sensitive: true, PlanModifiers: keep,
				Description: "The secret (kps_…), written to the state once, at creation and at each rotation (Keyport keeps only an HMAC of it and cannot show it again). Null after an import.",
			},
			"status":          schema.StringAttribute{Computed: true, Description: "enabled, disabled or locked (too many wrong secrets)."},
			"locked":          schema.BoolAttribute{Computed: true, Description: "Whether the keypair is locked out."},
			"created_at":      schema.StringAttribute{Computed: true, Description: "When it was created (RFC 3339).", PlanModifiers: keep},
			"last_rotated_at": schema.StringAttribute{Computed: true, Description: "When the secret was last rotated or regenerated (RFC 3339), or null."},
		},
	}
}

func (r *keypairResource) ConfigValidators(_ context.Context) []resource.ConfigValidator {
	return []resource.ConfigValidator{resourcevalidator.ExactlyOneOf(path.MatchRoot("account_id"), path.MatchRoot("environment_id"))}
}

func (r *keypairResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.client = clientFrom(req.ProviderData, &resp.Diagnostics)
}

func rotationTrigger(ctx context.Context, rotation types.Object, diags *diag.Diagnostics) (trigger, grace string, set bool) {
	if rotation.IsNull() || rotation.IsUnknown() {
		return "", "", false
	}
	var m rotationModel
	diags.Append(rotation.As(ctx, &m, basetypesObjectAsOptions)...)
	if m.Trigger.IsUnknown() || m.Trigger.IsNull() {
		return "", "", false
	}
	grace = m.Grace.ValueString()
	if grace == "" {
		grace = defaultGrace
	}
	return m.Trigger.ValueString(), grace, true
}

// ModifyPlan: a changed rotation trigger means a new secret, unknown until the apply.
func (r *keypairResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.State.Raw.IsNull() || req.Plan.Raw.IsNull() {
		return
	}
	var plan, state keypairModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if rotates(ctx, state.Rotation, plan.Rotation, &resp.Diagnostics) {
		resp.Plan.SetAttribute(ctx, path.Root("secret"), types.StringUnknown())
		resp.Plan.SetAttribute(ctx, path.Root("last_rotated_at"), types.StringUnknown())
	}
}

// rotates: the plan's trigger is set and differs from the state's (also when the state had none).
func rotates(ctx context.Context, before, after types.Object, diags *diag.Diagnostics) bool {
	if !after.IsNull() && !after.IsUnknown() {
		var m rotationModel
		diags.Append(after.As(ctx, &m, basetypesObjectAsOptions)...)
		if m.Trigger.IsUnknown() {
			return true
		}
	}
	next, _, set := rotationTrigger(ctx, after, diags)
	if !set {
		return false
	}
	previous, _, had := rotationTrigger(ctx, before, diags)
	return !had || previous != next
}

// setKeypair copies what Keyport says into the model (never the secret: Keyport does not return it).
func setKeypair(ctx context.Context, m *keypairModel, kp *keyport.Keypair, diags *diag.Diagnostics) {
	m.ID = types.StringValue(kp.KeyID)
	m.KeyID = types.StringValue(kp.KeyID)
	if kp.OwnerType == "environment" && kp.EnvironmentID != nil {
		m.EnvironmentID = types.StringValue(*kp.EnvironmentID)
		m.AccountID = types.StringNull()
	} else {
		m.AccountID = types.StringValue(kp.AccountID)
		m.EnvironmentID = types.StringNull()
	}
	m.Name = types.StringValue(kp.Name)
	m.Comment = types.StringValue(kp.Comment)
	scopes, d := types.SetValueFrom(ctx, types.StringType, append([]string{}, kp.Scopes...))
	diags.Append(d...)
	m.Scopes = scopes
	m.Enabled = types.BoolValue(kp.Enabled)
	m.Status = types.StringValue(kp.Status)
	m.Locked = types.BoolValue(kp.Locked)
	m.CreatedAt = types.StringValue(kp.CreatedAt)
	m.LastRotatedAt = types.StringPointerValue(kp.LastRotatedAt)
}

func keypairInput(ctx context.Context, m *keypairModel, diags *diag.Diagnostics) keyport.KeypairInput {
	name, comment := m.Name.ValueString(), m.Comment.ValueString()
	scopes := []string{}
	diags.Append(m.Scopes.ElementsAs(ctx, &scopes, false)...)
	return keyport.KeypairInput{Name: &name, Comment: &comment, Scopes: &scopes}
}

func (r *keypairResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan keypairModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	owner := plan.AccountID.ValueString()
	if owner == "" {
		owner = plan.EnvironmentID.ValueString()
	}
	in := keypairInput(ctx, &plan, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	issued, err := r.client.CreateKeypair(ctx, owner, in)
	if err != nil {
		apiError(&resp.Diagnostics, "creating the keypair", err)
		return
	}
	kp := &issued.Keypair
	plan.Secret = types.StringValue(issued.Secret)
	if !plan.Enabled.ValueBool() {
		if kp, err = r.client.SetKeypairEnabled(ctx, kp.KeyID, false); err != nil {
			// Save what exists so that the secret is not lost; the next apply disables it.
			setKeypair(ctx, &plan, &issued.Keypair, &resp.Diagnostics)
			resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
			apiError(&resp.Diagnostics, "disabling the new keypair "+issued.Keypair.KeyID, err)
			return
		}
	}
	rotation := plan.Rotation
	setKeypair(ctx, &plan, kp, &resp.Diagnostics)
	plan.Rotation = rotation
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *keypairResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state keypairModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	kp, err := r.client.Keypair(ctx, state.ID.ValueString())
	if keyport.IsNotFound(err) {
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		apiError(&resp.Diagnostics, "reading keypair "+state.ID.ValueString(), err)
		return
	}
	setKeypair(ctx, &state, kp, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *keypairResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state keypairModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	keyID := state.ID.ValueString()
	kp, err := r.client.Keypair(ctx, keyID)
	if err != nil {
		apiError(&resp.Diagnostics, "reading keypair "+keyID, err)
		return
	}
	if !plan.Name.Equal(state.Name) || !plan.Comment.Equal(state.Comment) || !plan.Scopes.Equal(state.Scopes) {
		in := keypairInput(ctx, &plan, &resp.Diagnostics)
		if resp.Diagnostics.HasError() {
			return
		}
		if kp, err = r.client.UpdateKeypair(ctx, keyID, in); err != nil {
			apiError(&resp.Diagnostics, "updating keypair "+keyID, err)
			return
		}
	}
	if plan.Enabled.ValueBool() != kp.Enabled {
		if kp, err = r.client.SetKeypairEnabled(ctx, keyID, plan.Enabled.ValueBool()); err != nil {
			apiError(&resp.Diagnostics, "enabling or disabling keypair "+keyID, err)
			return
		}
	}
	secret := state.Secret
	if rotates(ctx, state.Rotation, plan.Rotation, &resp.Diagnostics) {
		_, grace, _ := rotationTrigger(ctx, plan.Rotation, &resp.Diagnostics)
		issued, err := r.client.RotateKeypair(ctx, keyID, grace)
		if err != nil {
			apiError(&resp.Diagnostics, "rotating keypair "+keyID, err)
			return
		}
		kp, secret = &issued.Keypair, types.StringValue(issued.Secret)
	}
	rotation := plan.Rotation
	setKeypair(ctx, &plan, kp, &resp.Diagnostics)
	plan.Rotation, plan.Secret = rotation, secret
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *keypairResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state keypairModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if err := r.client.DeleteKeypair(ctx, state.ID.ValueString()); err != nil && !keyport.IsNotFound(err) {
		apiError(&resp.Diagnostics, "removing keypair "+state.ID.ValueString(), err)
	}
}

func (r *keypairResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	resource.ImportStatePassthroughID(ctx, path.Root("id"), req, resp)
}
