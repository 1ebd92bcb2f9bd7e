package provider

import (
	"context"
	"encoding/json"
	"regexp"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/setplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/keyport/terraform-provider-keyport/internal/keyport"
)

// webhookDescriptionMax is Keyport's limit (WEBHOOK_DESCRIPTION_MAX), checked at plan time.
const webhookDescriptionMax = 500

// storedKey names the private state entry holding the url and description as
// Keyport stored them at creation. Keyport normalizes both (the URL as a WHATWG
// URL, e.g. a "/" added to an empty path; the description trimmed), so the
// state keeps the configured spelling while Keyport still has what it stored
// then, and shows Keyport's values (a change to plan) once they differ.
const storedKey = "stored"

type webhookResource struct{ client *keyport.Client }

func newWebhookResource() resource.Resource { return &webhookResource{} }

type webhookModel struct {
	ID          types.String `tfsdk:"id"`
	AccountID   types.String `tfsdk:"account_id"`
	URL         types.String `tfsdk:"url"`
	Description types.String `tfsdk:"description"`
	Events      types.Set    `tfsdk:"events"`
	Secret      types.String `tfsdk:"secret"`
	SecretHint  types.String `tfsdk:"secret_hint"`
	CreatedAt   types.String `tfsdk:"created_at"`
}

type storedWebhook struct {
	URL         string `json:"url"`
	Description string `json:"description"`
}

func (r *webhookResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_webhook"
}

func (r *webhookResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	keep := []planmodifier.String{stringplanmodifier.UseStateForUnknown()}
	replace := []planmodifier.String{stringplanmodifier.RequiresReplace()}
	resp.Schema = schema.Schema{
		Description: "A webhook endpoint of an account: Keyport POSTs the account's keypair events (its own keypairs' and every environment's) to it, signed with the endpoint's secret. Keyport's API has no edit of an endpoint, so a change of url or description replaces it, with a new secret. Destroying it removes the endpoint with its delivery log; deliveries not yet made are dropped.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{Computed: true, Description: "The endpoint id (whk_…).", PlanModifiers: keep},
			"account_id": schema.StringAttribute{
				Required: true, PlanModifiers: replace,
				Validators:  []validator.String{stringvalidator.RegexMatches(regexp.MustCompile(`^acc_`), "must be an account id (acc_…): webhook endpoints belong to an account and receive every environment's events")},
				Description: "The account (acc_…): the provider keypair's own. Changing it replaces the endpoint.",
			},
			"url": schema.StringAttribute{
				Required: true, PlanModifiers: replace,
				Description: "Where Keyport sends the events: https:// on a public address (loopback and private networks only if Keyport's settings allow them), no user name or password. Keyport refuses anything else with its reason. Changing it replaces the endpoint (a new secret).",
			},
			"description": schema.StringAttribute{
				Optional: true, Computed: true, Default: stringdefault.StaticString(""), PlanModifiers: replace,
				Validators:  []validator.String{stringvalidator.LengthAtMost(webhookDescriptionMax)},
				Description: "A free description (up to 500 characters). Changing it replaces the endpoint (a new secret).",
			},
			"events": schema.SetAttribute{
				Computed: true, ElementType: types.StringType,
				PlanModifiers: []planmodifier.Set{setplanmodifier.UseStateForUnknown()},
				Description:   "The event types sent to the endpoint: every keypair event of the account (Keyport has no per-endpoint filter).",
			},
			"secret": schema.StringAttribute{
				Computed: true, Sensitive: true, PlanModifiers: keep,
				Description: "The signing secret (whsec_…), written to the state once, at creation (Keyport shows it only then). Null after an import.",
			},
			"secret_hint": schema.StringAttribute{Computed: true, Description: "The secret's last characters (whsec_…x9Qa), as Keyport shows them.", PlanModifiers: keep},
			"created_at":  schema.StringAttribute{Computed: true, Description: "When it was added (RFC 3339).", PlanModifiers: keep},
		},
	}
}

func (r *webhookResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.client = clientFrom(req.ProviderData, &resp.Diagnostics)
}

// privateState is the part of the framework's private state this resource reads (nil-safe: nil has no keys).
type privateState interface {
	GetKey(ctx context.Context, key string) ([]byte, diag.Diagnostics)
}

// setWebhook copies what Keyport says into the model, keeping the configured
// url and description while Keyport still has what it stored at creation.
func setWebhook(ctx context.Context, m *webhookModel, wh *keyport.Webhook, stored *storedWebhook, diags *diag.Diagnostics) {
	m.ID = types.StringValue(wh.ID)
	m.AccountID = types.StringValue(wh.AccountID)
	if stored == nil || stored.URL != wh.URL {
		m.URL = types.StringValue(wh.URL)
	}
	if stored == nil || stored.Description != wh.Description {
		m.Description = types.StringValue(wh.Description)
	}
	events, d := types.SetValueFrom(ctx, types.StringType, append([]string{}, wh.Events...))
	diags.Append(d...)
	m.Events = events
	m.SecretHint = types.StringValue(wh.SecretHint)
	m.CreatedAt = types.StringValue(wh.CreatedAt)
}

func readStored(ctx context.Context, private privateState, diags *diag.Diagnostics) *storedWebhook {
	raw, d := private.GetKey(ctx, storedKey)
	diags.Append(d...)
	if len(raw) == 0 {
		return nil
	}
	var stored storedWebhook
	if err := json.Unmarshal(raw, &stored); err != nil {
		return nil
	}
	return &stored
}

func storedJSON(wh *keyport.Webhook) []byte {
	raw, _ := json.Marshal(storedWebhook{URL: wh.URL, Description: wh.Description})
	return raw
}

func (r *webhookResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan webhookModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	issued, err := r.client.CreateWebhook(ctx, plan.AccountID.ValueString(), plan.URL.ValueString(), plan.Description.ValueString())
	if err != nil {
		apiError(&resp.Diagnostics, "adding the webhook endpoint "+plan.URL.ValueString(), err)
		return
	}
	setWebhook(ctx, &plan, &issued.Webhook, &storedWebhook{URL: issued.Webhook.URL, Description: issued.Webhook.Description}, &resp.Diagnostics)
	plan.Secret = types.StringValue(issued.Secret)
	resp.Diagnostics.Append(resp.Private.SetKey(ctx, storedKey, storedJSON(&issued.Webhook))...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *webhookResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state webhookModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	wh, err := r.client.Webhook(ctx, state.ID.ValueString())
	if keyport.IsNotFound(err) {
		// Removed outside Terraform (web UI, CLI, API): the next plan adds it again, with a new secret.
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		apiError(&resp.Diagnostics, "reading webhook endpoint "+state.ID.ValueString(), err)
		return
	}
	stored := readStored(ctx, req.Private, &resp.Diagnostics)
	setWebhook(ctx, &state, wh, stored, &resp.Diagnostics)
	if stored == nil {
		// Imported: from now on Keyport's current values are the reference.
		resp.Diagnostics.Append(resp.Private.SetKey(ctx, storedKey, storedJSON(wh))...)
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

// Update is never reached with a change (every configurable attribute replaces
// the endpoint); it keeps the state as planned.
func (r *webhookResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan webhookModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *webhookResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state webhookModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if err := r.client.DeleteWebhook(ctx, state.ID.ValueString()); err != nil && !keyport.IsNotFound(err) {
		apiError(&resp.Diagnostics, "removing webhook endpoint "+state.ID.ValueString(), err)
	}
}

func (r *webhookResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	resource.ImportStatePassthroughID(ctx, path.Root("id"), req, resp)
}
