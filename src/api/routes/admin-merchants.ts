import { z } from "zod";
import { checkNotifyUrl } from "../../notify/index.ts";
import type { Ctx } from "../../context.ts";
import {
  createEntity,
  createMerchant,
  entityMerchants,
  entityToWire,
  getEntity,
  listEntities,
  listKeys,
  listMerchants,
  loadMerchant,
  merchantSchemas as S,
  merchantPatchNeedsFourEyes,
  merchantToWire,
  patchMerchant,
  SETTLEMENT_CHANGE_KIND,
  settlementChangeKind,
  setSilentReuseTrust,
  revokeKey,
  rotateKey,
} from "../../merchants/index.ts";
import type { Proposals } from "../../proposals/index.ts";
import { ADMIN_ONLY, adminRoute, type RouteDef } from "../route.ts";
import { PageQuery, listOf } from "./common.ts";

const EntityDetail = S.EntityOut.extend({
  merchants: z.array(z.object({ merchant_id: z.string(), name: z.string(), parent_merchant_id: z.string().nullable(), status: z.string() })),
});
const MerchantId = z.strictObject({ merchant_id: z.string().min(1).max(64) });

export function adminMerchantRoutes(ctx: Ctx, proposals: Proposals): RouteDef[] {
  proposals.register(settlementChangeKind(ctx));
  const actor = (i: { operator: { operator_id: string }; request_id: string }) => ({ operator_id: i.operator.operator_id, request_id: i.request_id });
  return [
    adminRoute({
      method: "POST",
      url: "/admin/v1/entities",
      summary: "Create a merchant entity (legal subject) with its payment account",
      tags: ["Admin: merchants"],
      body: S.EntityCreate,
      response: S.EntityOut,
      success_status: 201,
      handler: async (i) => {
        const { entity, created } = await createEntity(ctx, i.body, actor(i));
        return { status: created ? 201 : 200, body: entityToWire(entity) };
      },
    }),
    adminRoute({
      method: "GET",
      url: "/admin/v1/entities/:entity_id",
      summary: "Get a merchant entity",
      tags: ["Admin: merchants"],
      params: z.strictObject({ entity_id: z.string().min(1).max(64) }),
      response: EntityDetail,
      handler: async (i) => {
        const entity = entityToWire(await getEntity(ctx, i.params.entity_id));
        return { body: { ...entity, merchants: await entityMerchants(ctx, i.params.entity_id) } };
      },
    }),
    adminRoute({
      method: "GET",
      url: "/admin/v1/entities",
      summary: "List merchant entities, newest first; q finds a USCC or part of a legal name",
      tags: ["Admin: merchants"],
      query: z.strictObject({ ...PageQuery, q: z.string().trim().min(1).max(128).optional() }),
      response: listOf(S.EntityOut),
      handler: async (i) => {
        const page = await listEntities(ctx, i.query);
        return { body: { data: page.data.map(entityToWire), next_cursor: page.next_cursor } };
      },
    }),
    adminRoute({
      method: "POST",
      url: "/admin/v1/merchants",
      summary: "Create a merchant ID or sub-merchant ID; answers its first API key (secret shown once)",
      tags: ["Admin: merchants"],
      body: S.MerchantCreate,
      response: S.MerchantCreated,
      success_status: 201,
      handler: async (i) => {
        checkNotifyUrl(ctx.settings, i.body.notify_url, "notify_url");
        const { merchant, api_key } = await createMerchant(ctx, i.body, actor(i));
        return { status: 201, body: { ...merchantToWire(merchant), api_key } };
      },
    }),
    adminRoute({
      method: "GET",
      url: "/admin/v1/merchants",
      summary: "List merchant IDs",
      tags: ["Admin: merchants"],
      query: z.strictObject({
        ...PageQuery,
        entity_id: z.string().max(64).optional(),
        parent_merchant_id: z.string().max(64).optional(),
        status: z.enum(["active", "suspended"]).optional(),
        held: z.enum(["true", "false"]).transform((v) => v === "true").optional().describe("Only those under a settlement hold (true), or not (false)"),
      }),
      response: listOf(S.MerchantOut),
      handler: async (i) => ({ body: await listMerchants(ctx, i.query) }),
    }),
    adminRoute({
      method: "GET",
      url: "/admin/v1/merchants/:merchant_id",
      summary: "Get a merchant ID",
      tags: ["Admin: merchants"],
      params: MerchantId,
      response: S.MerchantOut,
      handler: async (i) => ({ body: merchantToWire(await loadMerchant(ctx.db, i.params.merchant_id)) }),
    }),
    adminRoute({
      method: "PATCH",
      url: "/admin/v1/merchants/:merchant_id",
      summary: "Change a merchant ID (including status: active | suspended)",
      description:
        "A patch that touches `settlement` (where the money goes) is four-eyes: it answers 202 with a proposal and applies when another operator approves it (POST /admin/v1/proposals/{proposal_id}/approve).",
      tags: ["Admin: merchants"],
      params: MerchantId,
      body: S.MerchantPatch,
      response: S.MerchantOut,
      handler: async (i) => {
        checkNotifyUrl(ctx.settings, i.body.notify_url, "notify_url");
        if (merchantPatchNeedsFourEyes(i.body)) {
          const proposal = await proposals.propose({ operator: i.operator, request_id: i.request_id }, SETTLEMENT_CHANGE_KIND, { merchant_id: i.params.merchant_id, patch: i.body });
          return { status: 202, body: proposal };
        }
        return { body: merchantToWire(await patchMerchant(ctx, i.params.merchant_id, i.body, actor(i))) };
      },
    }),
    adminRoute({
      method: "PUT",
      url: "/admin/v1/merchants/:merchant_id/silent-reuse",
      summary: "Trust (or stop trusting) a merchant ID for silent reuse of cards signed at other entities (admin only, audited)",
      description:
        "Without it, a card signed at another entity's merchant ID needs the cardholder's own code (paycore's SMS to the reserved phone) before this merchant ID gets an agreement.",
      tags: ["Admin: merchants"],
      roles: ADMIN_ONLY,
      params: MerchantId,
      body: z.strictObject({ trusted: z.boolean(), reason: z.string().trim().min(1).max(256) }),
      response: S.MerchantOut,
      handler: async (i) => ({ body: merchantToWire(await setSilentReuseTrust(ctx, i.params.merchant_id, i.body.trusted, i.body.reason, actor(i))) }),
    }),
    adminRoute({
      method: "POST",
      url: "/admin/v1/merchants/:merchant_id/keys",
      summary: "Rotate: issue a new API key; older keys keep working for the grace period (default 24 h)",
      tags: ["Admin: merchants"],
      roles: ADMIN_ONLY,
      params: MerchantId,
      body: S.KeyRotate.optional(),
      response: S.ApiKeyCreated.extend({ previous_keys_expire_at: z.string().nullable() }),
      success_status: 201,
      handler: async (i) => {
        const grace_ms = i.body?.grace_hours === undefined ? ctx.settings.key_grace_ms : Math.round(i.body.grace_hours * 3_600_000);
        return { status: 201, body: await rotateKey(ctx, i.params.merchant_id, grace_ms, actor(i)) };
      },
    }),
    adminRoute({
      method: "GET",
      url: "/admin/v1/merchants/:merchant_id/keys",
      summary: "List a merchant ID's API keys (never their secrets)",
      tags: ["Admin: merchants"],
      params: MerchantId,
      response: z.object({ data: z.array(S.ApiKeyOut) }),
      handler: async (i) => {
        await loadMerchant(ctx.db, i.params.merchant_id);
        return { body: { data: await listKeys(ctx, i.params.merchant_id) } };
      },
    }),
    adminRoute({
      method: "POST",
      url: "/admin/v1/merchants/:merchant_id/keys/:key_id/revoke",
      summary: "Revoke an API key at once",
      tags: ["Admin: merchants"],
      roles: ADMIN_ONLY,
      params: z.strictObject({ merchant_id: z.string().min(1).max(64), key_id: z.string().min(1).max(64) }),
      response: S.ApiKeyOut,
      handler: async (i) => ({ body: await revokeKey(ctx, i.params.merchant_id, i.params.key_id, actor(i)) }),
    }),
  ];
}
