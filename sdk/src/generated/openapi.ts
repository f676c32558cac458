/**
 * Generated from paycore's GET /openapi.json by openapi-typescript — do not edit.
 * Regenerate: PAYCORE_UPDATE_SDK_TYPES=1 npx vitest run test/sdk/types.test.ts, or start paycore
 * (npm start) and run `npm run generate -w @paycore/sdk`
 * (PAYCORE_OPENAPI_URL to use another server). test/sdk/types.test.ts fails when this is stale.
 */
export interface paths {
    "/v1/agreements": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** List agreements, filtered by user_ref */
        get: operations["listAgreements"];
        put?: never;
        /** Start signing a card: otp_sent (the bank's or paycore's SMS went out) or already_signed (no SMS, nothing charged) */
        post: operations["createAgreement"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/agreements/confirm": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Confirm signing with the SMS code: answers the agreement */
        post: operations["confirmAgreement"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/agreements/resend-otp": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Send a new SMS code (at most once a minute) */
        post: operations["resendAgreementOtp"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/agreements/{agreement_id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Get an agreement */
        get: operations["getAgreement"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/agreements/{agreement_id}/unbind": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Unbind: ends this merchant ID's agreement (and the network's when no merchant uses the card) */
        post: operations["unbindAgreement"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/sign-and-pay": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Sign and pay in one call: already_signed (no payment made) or otp_sent */
        post: operations["signAndPay"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/sign-and-pay/confirm": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Confirm with the SMS code: answers the agreement and the payment */
        post: operations["confirmSignAndPay"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/payments": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** List payments, newest first */
        get: operations["listPayments"];
        put?: never;
        /** Pay with an agreement. processing = outcome not known yet; it becomes final by itself and a notification follows */
        post: operations["createPayment"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/payments/{payment_id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Get a payment */
        get: operations["getPayment"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/payments/{payment_id}/refunds": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Refund part or all of a payment; refunds never add up to more than the payment */
        post: operations["createPaymentRefund"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/refunds/{refund_id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Get a refund */
        get: operations["getRefund"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/balance": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Pending and available balance of the calling merchant ID, or of one of its sub-merchants (fen) */
        get: operations["getBalance"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/agreement-campaigns": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Create a batch signing campaign: each invitee gets an SMS with a link to the hosted signing page
         * @description At most 1000 invitations (user_ref and phone unique in the campaign). Creating a campaign makes no agreement and sends no bank code: each cardholder signs on the page with their own card entry and code. A repeat with the same out_campaign_no and body answers the campaign (200); another body answers duplicate_out_trade_no.
         */
        post: operations["createAgreementCampaign"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/agreement-campaigns/{campaign_id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** A campaign and its invitations counted per state (invited, opened, signed, expired, failed) */
        get: operations["getAgreementCampaign"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/agreement-campaigns/{campaign_id}/invitations": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** A campaign's invitations (user_ref, state, agreement_id once signed), filtered by status */
        get: operations["listAgreementCampaignInvitations"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/settlements": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Settlement records of the calling merchant ID (one per settlement date) */
        get: operations["listSettlements"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/statements": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * The day's statement as CSV: every payment, fee, refund, fee returned, settlement and payout line, with opening and closing balances
         * @description Columns: line_type, occurred_at, business_date, account (pending | available), amount (signed fen: + owed to the merchant), reference_id, payment_id, entry_id, note. For each account, opening_balance plus the day's lines equals closing_balance. Rows of line_type `settlement` with an empty account repeat the day's settlement records (net) and move no balance.
         */
        get: operations["getStatement"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/payouts": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** List payouts, newest first */
        get: operations["listPayouts"];
        put?: never;
        /** Pay a business account over HVPS/BEPS/IBPS/bank-direct; amount + fee are reserved from available. queued = waiting for a rail to open (route_reason says which and when) */
        post: operations["createPayout"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/payouts/{payout_id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Get a payout */
        get: operations["getPayout"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/payout-batches": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Up to 1000 payouts in one request: each line is validated and reserved on its own; a bad line is rejected alone
         * @description Each line has the fields of POST /v1/payouts and becomes a payout of its own (its own reservation of amount + fee, its own route). A line that is bad input or that the balance does not cover is answered in `lines[i].error` (naming the field as payouts.<i>.<field>) and moves nothing; the other lines go. The body may be up to 2097152 bytes. A repeat with the same out_batch_no and body answers the batch (200); another body answers duplicate_out_trade_no.
         */
        post: operations["createPayoutBatche"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/payout-batches/{batch_id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** A payout batch: counts per status and each line's payout as it is now, or why the line was rejected */
        get: operations["getPayoutBatche"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/deposits": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Deposits into the reserve account for this merchant ID: credited when the payer is the entity itself (票款一致), otherwise returned */
        get: operations["listDeposits"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/events/{event_id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Get one of your notification events and how delivering it went */
        get: operations["getEvent"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
}
export type webhooks = Record<string, never>;
export interface components {
    schemas: {
        Error: {
            error: {
                /** @enum {string} */
                code: "invalid_request" | "invalid_signature" | "replayed_request" | "unauthorized" | "forbidden" | "merchant_suspended" | "not_found" | "method_not_allowed" | "idempotency_conflict" | "duplicate_out_trade_no" | "duplicate_out_refund_no" | "otp_invalid" | "otp_expired" | "otp_attempts_exceeded" | "agreement_inactive" | "resign_required" | "amount_exceeds_refundable" | "payment_not_refundable" | "date_in_future" | "business_day_not_closed" | "limit_exceeded" | "risk_rejected" | "insufficient_balance" | "payouts_held" | "rate_limited" | "internal" | "channel_unavailable" | "rail_unavailable" | "service_unavailable";
                message: string;
                request_id: string;
                field?: string;
            };
        };
    };
    responses: never;
    parameters: never;
    requestBodies: never;
    headers: never;
    pathItems: never;
}
export type $defs = Record<string, never>;
export interface operations {
    listAgreements: {
        parameters: {
            query?: {
                limit?: number;
                cursor?: string;
                user_ref?: string;
                status?: "active" | "unbound";
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description OK */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        data: {
                            agreement_id: string;
                            /** @enum {string} */
                            status: "active" | "unbound";
                            user_ref: string;
                            card: {
                                bank_code: string;
                                bank_name: string;
                                /** @enum {string} */
                                card_type: "debit" | "credit";
                                last4: string;
                            };
                            created_at: string;
                            unbound_at: string | null;
                        }[];
                        next_cursor: string | null;
                    };
                };
            };
            /** @description invalid_request */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "invalid_request";
                        };
                    };
                };
            };
            /** @description invalid_signature, replayed_request */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "invalid_signature" | "replayed_request";
                        };
                    };
                };
            };
            /** @description merchant_suspended */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "merchant_suspended";
                        };
                    };
                };
            };
            /** @description rate_limited */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "rate_limited";
                        };
                    };
                };
            };
            /** @description internal */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "internal";
                        };
                    };
                };
            };
            /** @description service_unavailable */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "service_unavailable";
                        };
                    };
                };
            };
            /** @description Error */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    createAgreement: {
        parameters: {
            query?: never;
            header?: {
                "Idempotency-Key"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    out_request_no: string;
                    user_ref: string;
                    card: {
                        holder_name: string;
                        /** @constant */
                        id_type: "resident_id";
                        id_number: string;
                        card_number: string;
                        phone: string;
                        cvn2?: string;
                        expiry?: string;
                    };
                };
            };
        };
        responses: {
            /** @description OK */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        sign_request_id: string;
                        /** @enum {string} */
                        status: "otp_sent" | "already_signed";
                        agreement_id: string | null;
                        otp_sent_to: string | null;
                        warnings: string[];
                    };
                };
            };
            /** @description invalid_request */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "invalid_request";
                        };
                    };
                };
            };
            /** @description invalid_signature, replayed_request */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "invalid_signature" | "replayed_request";
                        };
                    };
                };
            };
            /** @description merchant_suspended */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "merchant_suspended";
                        };
                    };
                };
            };
            /** @description idempotency_conflict, duplicate_out_trade_no */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "idempotency_conflict" | "duplicate_out_trade_no";
                        };
                    };
                };
            };
            /** @description risk_rejected, otp_attempts_exceeded */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "risk_rejected" | "otp_attempts_exceeded";
                        };
                    };
                };
            };
            /** @description rate_limited */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "rate_limited";
                        };
                    };
                };
            };
            /** @description internal */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "internal";
                        };
                    };
                };
            };
            /** @description service_unavailable, channel_unavailable */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "service_unavailable" | "channel_unavailable";
                        };
                    };
                };
            };
            /** @description Error */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    confirmAgreement: {
        parameters: {
            query?: never;
            header?: {
                "Idempotency-Key"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    sign_request_id: string;
                    otp: string;
                };
            };
        };
        responses: {
            /** @description OK */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        agreement_id: string;
                        /** @enum {string} */
                        status: "active" | "unbound";
                        user_ref: string;
                        card: {
                            bank_code: string;
                            bank_name: string;
                            /** @enum {string} */
                            card_type: "debit" | "credit";
                            last4: string;
                        };
                        created_at: string;
                        unbound_at: string | null;
                    };
                };
            };
            /** @description invalid_request */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "invalid_request";
                        };
                    };
                };
            };
            /** @description invalid_signature, replayed_request */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "invalid_signature" | "replayed_request";
                        };
                    };
                };
            };
            /** @description merchant_suspended */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "merchant_suspended";
                        };
                    };
                };
            };
            /** @description idempotency_conflict */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "idempotency_conflict";
                        };
                    };
                };
            };
            /** @description otp_invalid, otp_expired, otp_attempts_exceeded, agreement_inactive */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "otp_invalid" | "otp_expired" | "otp_attempts_exceeded" | "agreement_inactive";
                        };
                    };
                };
            };
            /** @description rate_limited */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "rate_limited";
                        };
                    };
                };
            };
            /** @description internal */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "internal";
                        };
                    };
                };
            };
            /** @description service_unavailable, channel_unavailable */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "service_unavailable" | "channel_unavailable";
                        };
                    };
                };
            };
            /** @description Error */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    resendAgreementOtp: {
        parameters: {
            query?: never;
            header?: {
                "Idempotency-Key"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    sign_request_id: string;
                };
            };
        };
        responses: {
            /** @description OK */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        sign_request_id: string;
                        /** @constant */
                        status: "otp_sent";
                    };
                };
            };
            /** @description invalid_request */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "invalid_request";
                        };
                    };
                };
            };
            /** @description invalid_signature, replayed_request */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "invalid_signature" | "replayed_request";
                        };
                    };
                };
            };
            /** @description merchant_suspended */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "merchant_suspended";
                        };
                    };
                };
            };
            /** @description idempotency_conflict */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "idempotency_conflict";
                        };
                    };
                };
            };
            /** @description otp_expired, otp_attempts_exceeded, limit_exceeded */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "otp_expired" | "otp_attempts_exceeded" | "limit_exceeded";
                        };
                    };
                };
            };
            /** @description rate_limited */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "rate_limited";
                        };
                    };
                };
            };
            /** @description internal */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "internal";
                        };
                    };
                };
            };
            /** @description service_unavailable, channel_unavailable */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "service_unavailable" | "channel_unavailable";
                        };
                    };
                };
            };
            /** @description Error */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getAgreement: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                agreement_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description OK */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        agreement_id: string;
                        /** @enum {string} */
                        status: "active" | "unbound";
                        user_ref: string;
                        card: {
                            bank_code: string;
                            bank_name: string;
                            /** @enum {string} */
                            card_type: "debit" | "credit";
                            last4: string;
                        };
                        created_at: string;
                        unbound_at: string | null;
                    };
                };
            };
            /** @description invalid_request */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "invalid_request";
                        };
                    };
                };
            };
            /** @description invalid_signature, replayed_request */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "invalid_signature" | "replayed_request";
                        };
                    };
                };
            };
            /** @description merchant_suspended */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "merchant_suspended";
                        };
                    };
                };
            };
            /** @description not_found */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "not_found";
                        };
                    };
                };
            };
            /** @description rate_limited */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "rate_limited";
                        };
                    };
                };
            };
            /** @description internal */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "internal";
                        };
                    };
                };
            };
            /** @description service_unavailable */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "service_unavailable";
                        };
                    };
                };
            };
            /** @description Error */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    unbindAgreement: {
        parameters: {
            query?: never;
            header?: {
                "Idempotency-Key"?: string;
            };
            path: {
                agreement_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description OK */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        agreement_id: string;
                        /** @enum {string} */
                        status: "active" | "unbound";
                        user_ref: string;
                        card: {
                            bank_code: string;
                            bank_name: string;
                            /** @enum {string} */
                            card_type: "debit" | "credit";
                            last4: string;
                        };
                        created_at: string;
                        unbound_at: string | null;
                    };
                };
            };
            /** @description invalid_request */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "invalid_request";
                        };
                    };
                };
            };
            /** @description invalid_signature, replayed_request */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "invalid_signature" | "replayed_request";
                        };
                    };
                };
            };
            /** @description merchant_suspended */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "merchant_suspended";
                        };
                    };
                };
            };
            /** @description not_found */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "not_found";
                        };
                    };
                };
            };
            /** @description idempotency_conflict */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "idempotency_conflict";
                        };
                    };
                };
            };
            /** @description rate_limited */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "rate_limited";
                        };
                    };
                };
            };
            /** @description internal */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "internal";
                        };
                    };
                };
            };
            /** @description service_unavailable, channel_unavailable */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "service_unavailable" | "channel_unavailable";
                        };
                    };
                };
            };
            /** @description Error */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    signAndPay: {
        parameters: {
            query?: never;
            header?: {
                "Idempotency-Key"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    out_trade_no: string;
                    amount: number;
                    /** @constant */
                    currency: "CNY";
                    description: string;
                    /** Format: uri */
                    notify_url?: string;
                    sub_merchant_id?: string;
                    metadata?: {
                        [key: string]: string | number | boolean | null;
                    };
                    user_ref: string;
                    card: {
                        holder_name: string;
                        /** @constant */
                        id_type: "resident_id";
                        id_number: string;
                        card_number: string;
                        phone: string;
                        cvn2?: string;
                        expiry?: string;
                    };
                    out_request_no?: string;
                };
            };
        };
        responses: {
            /** @description OK */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        sign_request_id: string;
                        /** @enum {string} */
                        status: "otp_sent" | "already_signed";
                        agreement_id: string | null;
                        otp_sent_to: string | null;
                        warnings: string[];
                    };
                };
            };
            /** @description invalid_request */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "invalid_request";
                        };
                    };
                };
            };
            /** @description invalid_signature, replayed_request */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "invalid_signature" | "replayed_request";
                        };
                    };
                };
            };
            /** @description merchant_suspended */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "merchant_suspended";
                        };
                    };
                };
            };
            /** @description idempotency_conflict, duplicate_out_trade_no */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "idempotency_conflict" | "duplicate_out_trade_no";
                        };
                    };
                };
            };
            /** @description risk_rejected, limit_exceeded */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "risk_rejected" | "limit_exceeded";
                        };
                    };
                };
            };
            /** @description rate_limited */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "rate_limited";
                        };
                    };
                };
            };
            /** @description internal */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "internal";
                        };
                    };
                };
            };
            /** @description service_unavailable, channel_unavailable */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "service_unavailable" | "channel_unavailable";
                        };
                    };
                };
            };
            /** @description Error */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    confirmSignAndPay: {
        parameters: {
            query?: never;
            header?: {
                "Idempotency-Key"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    sign_request_id: string;
                    otp: string;
                };
            };
        };
        responses: {
            /** @description OK */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        agreement: {
                            agreement_id: string;
                            /** @enum {string} */
                            status: "active" | "unbound";
                            user_ref: string;
                            card: {
                                bank_code: string;
                                bank_name: string;
                                /** @enum {string} */
                                card_type: "debit" | "credit";
                                last4: string;
                            };
                            created_at: string;
                            unbound_at: string | null;
                        };
                        payment: {
                            payment_id: string;
                            out_trade_no: string;
                            agreement_id: string;
                            amount: number;
                            /** @constant */
                            currency: "CNY";
                            fee: number | null;
                            /** @enum {string} */
                            status: "processing" | "succeeded" | "failed";
                            failure_code: string | null;
                            failure_message: string | null;
                            channel: string | null;
                            route_reason: string | null;
                            sub_merchant_id: string | null;
                            description: string;
                            metadata: unknown;
                            created_at: string;
                            succeeded_at: string | null;
                            refunded_amount: number;
                        };
                    };
                };
            };
            /** @description invalid_request */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "invalid_request";
                        };
                    };
                };
            };
            /** @description invalid_signature, replayed_request */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "invalid_signature" | "replayed_request";
                        };
                    };
                };
            };
            /** @description merchant_suspended */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "merchant_suspended";
                        };
                    };
                };
            };
            /** @description idempotency_conflict */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "idempotency_conflict";
                        };
                    };
                };
            };
            /** @description otp_invalid, otp_expired, otp_attempts_exceeded, agreement_inactive, resign_required, limit_exceeded, risk_rejected */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "otp_invalid" | "otp_expired" | "otp_attempts_exceeded" | "agreement_inactive" | "resign_required" | "limit_exceeded" | "risk_rejected";
                        };
                    };
                };
            };
            /** @description rate_limited */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "rate_limited";
                        };
                    };
                };
            };
            /** @description internal */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "internal";
                        };
                    };
                };
            };
            /** @description service_unavailable, channel_unavailable */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "service_unavailable" | "channel_unavailable";
                        };
                    };
                };
            };
            /** @description Error */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    listPayments: {
        parameters: {
            query?: {
                limit?: number;
                cursor?: string;
                out_trade_no?: string;
                status?: "processing" | "succeeded" | "failed";
                created_from?: string;
                created_to?: string;
                sub_merchant_id?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description OK */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        data: {
                            payment_id: string;
                            out_trade_no: string;
                            agreement_id: string;
                            amount: number;
                            /** @constant */
                            currency: "CNY";
                            fee: number | null;
                            /** @enum {string} */
                            status: "processing" | "succeeded" | "failed";
                            failure_code: string | null;
                            failure_message: string | null;
                            channel: string | null;
                            route_reason: string | null;
                            sub_merchant_id: string | null;
                            description: string;
                            metadata: unknown;
                            created_at: string;
                            succeeded_at: string | null;
                            refunded_amount: number;
                        }[];
                        next_cursor: string | null;
                    };
                };
            };
            /** @description invalid_request */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "invalid_request";
                        };
                    };
                };
            };
            /** @description invalid_signature, replayed_request */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "invalid_signature" | "replayed_request";
                        };
                    };
                };
            };
            /** @description merchant_suspended */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "merchant_suspended";
                        };
                    };
                };
            };
            /** @description rate_limited */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "rate_limited";
                        };
                    };
                };
            };
            /** @description internal */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "internal";
                        };
                    };
                };
            };
            /** @description service_unavailable */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "service_unavailable";
                        };
                    };
                };
            };
            /** @description Error */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    createPayment: {
        parameters: {
            query?: never;
            header?: {
                "Idempotency-Key"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    out_trade_no: string;
                    amount: number;
                    /** @constant */
                    currency: "CNY";
                    description: string;
                    /** Format: uri */
                    notify_url?: string;
                    sub_merchant_id?: string;
                    metadata?: {
                        [key: string]: string | number | boolean | null;
                    };
                    agreement_id: string;
                };
            };
        };
        responses: {
            /** @description OK */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        payment_id: string;
                        out_trade_no: string;
                        agreement_id: string;
                        amount: number;
                        /** @constant */
                        currency: "CNY";
                        fee: number | null;
                        /** @enum {string} */
                        status: "processing" | "succeeded" | "failed";
                        failure_code: string | null;
                        failure_message: string | null;
                        channel: string | null;
                        route_reason: string | null;
                        sub_merchant_id: string | null;
                        description: string;
                        metadata: unknown;
                        created_at: string;
                        succeeded_at: string | null;
                        refunded_amount: number;
                    };
                };
            };
            /** @description invalid_request */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "invalid_request";
                        };
                    };
                };
            };
            /** @description invalid_signature, replayed_request */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "invalid_signature" | "replayed_request";
                        };
                    };
                };
            };
            /** @description merchant_suspended */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "merchant_suspended";
                        };
                    };
                };
            };
            /** @description idempotency_conflict, duplicate_out_trade_no */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "idempotency_conflict" | "duplicate_out_trade_no";
                        };
                    };
                };
            };
            /** @description agreement_inactive, resign_required, limit_exceeded, risk_rejected */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "agreement_inactive" | "resign_required" | "limit_exceeded" | "risk_rejected";
                        };
                    };
                };
            };
            /** @description rate_limited */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "rate_limited";
                        };
                    };
                };
            };
            /** @description internal */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "internal";
                        };
                    };
                };
            };
            /** @description service_unavailable, channel_unavailable */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "service_unavailable" | "channel_unavailable";
                        };
                    };
                };
            };
            /** @description Error */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getPayment: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                payment_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description OK */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        payment_id: string;
                        out_trade_no: string;
                        agreement_id: string;
                        amount: number;
                        /** @constant */
                        currency: "CNY";
                        fee: number | null;
                        /** @enum {string} */
                        status: "processing" | "succeeded" | "failed";
                        failure_code: string | null;
                        failure_message: string | null;
                        channel: string | null;
                        route_reason: string | null;
                        sub_merchant_id: string | null;
                        description: string;
                        metadata: unknown;
                        created_at: string;
                        succeeded_at: string | null;
                        refunded_amount: number;
                    };
                };
            };
            /** @description invalid_request */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "invalid_request";
                        };
                    };
                };
            };
            /** @description invalid_signature, replayed_request */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "invalid_signature" | "replayed_request";
                        };
                    };
                };
            };
            /** @description merchant_suspended */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "merchant_suspended";
                        };
                    };
                };
            };
            /** @description not_found */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "not_found";
                        };
                    };
                };
            };
            /** @description rate_limited */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "rate_limited";
                        };
                    };
                };
            };
            /** @description internal */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "internal";
                        };
                    };
                };
            };
            /** @description service_unavailable */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "service_unavailable";
                        };
                    };
                };
            };
            /** @description Error */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    createPaymentRefund: {
        parameters: {
            query?: never;
            header?: {
                "Idempotency-Key"?: string;
            };
            path: {
                payment_id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    out_refund_no: string;
                    amount: number;
                    reason?: string;
                };
            };
        };
        responses: {
            /** @description OK */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        refund_id: string;
                        payment_id: string;
                        out_refund_no: string;
                        amount: number;
                        /** @enum {string} */
                        status: "processing" | "succeeded" | "failed";
                        failure_code: string | null;
                        reason: string | null;
                        created_at: string;
                        succeeded_at: string | null;
                    };
                };
            };
            /** @description invalid_request */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "invalid_request";
                        };
                    };
                };
            };
            /** @description invalid_signature, replayed_request */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "invalid_signature" | "replayed_request";
                        };
                    };
                };
            };
            /** @description merchant_suspended */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "merchant_suspended";
                        };
                    };
                };
            };
            /** @description not_found */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "not_found";
                        };
                    };
                };
            };
            /** @description idempotency_conflict, duplicate_out_refund_no */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "idempotency_conflict" | "duplicate_out_refund_no";
                        };
                    };
                };
            };
            /** @description payment_not_refundable, amount_exceeds_refundable */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "payment_not_refundable" | "amount_exceeds_refundable";
                        };
                    };
                };
            };
            /** @description rate_limited */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "rate_limited";
                        };
                    };
                };
            };
            /** @description internal */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "internal";
                        };
                    };
                };
            };
            /** @description service_unavailable, channel_unavailable */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "service_unavailable" | "channel_unavailable";
                        };
                    };
                };
            };
            /** @description Error */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getRefund: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                refund_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description OK */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        refund_id: string;
                        payment_id: string;
                        out_refund_no: string;
                        amount: number;
                        /** @enum {string} */
                        status: "processing" | "succeeded" | "failed";
                        failure_code: string | null;
                        reason: string | null;
                        created_at: string;
                        succeeded_at: string | null;
                    };
                };
            };
            /** @description invalid_request */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "invalid_request";
                        };
                    };
                };
            };
            /** @description invalid_signature, replayed_request */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "invalid_signature" | "replayed_request";
                        };
                    };
                };
            };
            /** @description merchant_suspended */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "merchant_suspended";
                        };
                    };
                };
            };
            /** @description not_found */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "not_found";
                        };
                    };
                };
            };
            /** @description rate_limited */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "rate_limited";
                        };
                    };
                };
            };
            /** @description internal */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "internal";
                        };
                    };
                };
            };
            /** @description service_unavailable */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "service_unavailable";
                        };
                    };
                };
            };
            /** @description Error */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getBalance: {
        parameters: {
            query?: {
                sub_merchant_id?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description OK */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /** @description Fen not yet settled (negative when refunds exceed income and are carried forward) */
                        pending: number;
                        /** @description Fen settled and not yet paid out (held or awaiting payout) */
                        available: number;
                        /** @constant */
                        currency: "CNY";
                    };
                };
            };
            /** @description invalid_request */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "invalid_request";
                        };
                    };
                };
            };
            /** @description invalid_signature, replayed_request */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "invalid_signature" | "replayed_request";
                        };
                    };
                };
            };
            /** @description merchant_suspended */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "merchant_suspended";
                        };
                    };
                };
            };
            /** @description rate_limited */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "rate_limited";
                        };
                    };
                };
            };
            /** @description internal */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "internal";
                        };
                    };
                };
            };
            /** @description service_unavailable */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "service_unavailable";
                        };
                    };
                };
            };
            /** @description Error */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    createAgreementCampaign: {
        parameters: {
            query?: never;
            header?: {
                "Idempotency-Key"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    out_campaign_no: string;
                    invitations: {
                        user_ref: string;
                        holder_name: string;
                        phone: string;
                    }[];
                    link_ttl_hours?: number;
                };
            };
        };
        responses: {
            /** @description OK */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        campaign_id: string;
                        out_campaign_no: string;
                        invitation_count: number;
                        link_ttl_hours: number;
                        links_expire_at: string;
                        created_at: string;
                        counts: {
                            invited: number;
                            opened: number;
                            signed: number;
                            expired: number;
                            failed: number;
                        };
                        sms: {
                            sent: number;
                            pending: number;
                            failed: number;
                        };
                    };
                };
            };
            /** @description invalid_request */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "invalid_request";
                        };
                    };
                };
            };
            /** @description invalid_signature, replayed_request */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "invalid_signature" | "replayed_request";
                        };
                    };
                };
            };
            /** @description merchant_suspended */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "merchant_suspended";
                        };
                    };
                };
            };
            /** @description idempotency_conflict */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "idempotency_conflict";
                        };
                    };
                };
            };
            /** @description rate_limited */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "rate_limited";
                        };
                    };
                };
            };
            /** @description internal */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "internal";
                        };
                    };
                };
            };
            /** @description service_unavailable */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "service_unavailable";
                        };
                    };
                };
            };
            /** @description Error */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getAgreementCampaign: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                campaign_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description OK */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        campaign_id: string;
                        out_campaign_no: string;
                        invitation_count: number;
                        link_ttl_hours: number;
                        links_expire_at: string;
                        created_at: string;
                        counts: {
                            invited: number;
                            opened: number;
                            signed: number;
                            expired: number;
                            failed: number;
                        };
                        sms: {
                            sent: number;
                            pending: number;
                            failed: number;
                        };
                    };
                };
            };
            /** @description invalid_request */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "invalid_request";
                        };
                    };
                };
            };
            /** @description invalid_signature, replayed_request */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "invalid_signature" | "replayed_request";
                        };
                    };
                };
            };
            /** @description merchant_suspended */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "merchant_suspended";
                        };
                    };
                };
            };
            /** @description not_found */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "not_found";
                        };
                    };
                };
            };
            /** @description rate_limited */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "rate_limited";
                        };
                    };
                };
            };
            /** @description internal */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "internal";
                        };
                    };
                };
            };
            /** @description service_unavailable */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "service_unavailable";
                        };
                    };
                };
            };
            /** @description Error */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    listAgreementCampaignInvitations: {
        parameters: {
            query?: {
                status?: "invited" | "opened" | "signed" | "failed" | "expired";
                limit?: number;
                cursor?: string;
            };
            header?: never;
            path: {
                campaign_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description OK */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        data: {
                            invitation_id: string;
                            user_ref: string;
                            phone_last4: string;
                            /** @enum {string} */
                            status: "invited" | "opened" | "signed" | "failed" | "expired";
                            agreement_id: string | null;
                            failure_code: string | null;
                            /** @enum {string} */
                            sms_status: "pending" | "sent" | "failed";
                            opened_at: string | null;
                            signed_at: string | null;
                            expires_at: string;
                        }[];
                        next_cursor: string | null;
                    };
                };
            };
            /** @description invalid_request */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "invalid_request";
                        };
                    };
                };
            };
            /** @description invalid_signature, replayed_request */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "invalid_signature" | "replayed_request";
                        };
                    };
                };
            };
            /** @description merchant_suspended */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "merchant_suspended";
                        };
                    };
                };
            };
            /** @description not_found */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "not_found";
                        };
                    };
                };
            };
            /** @description rate_limited */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "rate_limited";
                        };
                    };
                };
            };
            /** @description internal */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "internal";
                        };
                    };
                };
            };
            /** @description service_unavailable */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "service_unavailable";
                        };
                    };
                };
            };
            /** @description Error */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    listSettlements: {
        parameters: {
            query?: {
                limit?: number;
                cursor?: string;
                date?: string;
                sub_merchant_id?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description OK */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        data: {
                            settlement_id: string;
                            merchant_id: string;
                            settlement_date: string;
                            /** @description Whose settlement account is paid: this merchant ID, or its parent in group settlement */
                            payee_merchant_id: string;
                            /** @description Last business day whose payments and refunds this settlement took */
                            covers_through: string;
                            item_count: number;
                            /** @description Payments (fen) */
                            gross: number;
                            /** @description Fees charged less fees returned on refunds (fen) */
                            fees: number;
                            /** @description Refunds (fen) */
                            refunds: number;
                            /** @description A negative net carried from the previous settlement (fen, ≤ 0) */
                            carried_in: number;
                            /** @description gross − fees − refunds + carried_in (fen) */
                            net: number;
                            /** @constant */
                            currency: "CNY";
                            /** @enum {string} */
                            status: "carried_forward" | "nothing_to_pay" | "held" | "awaiting_payout" | "in_transit" | "paid" | "payout_failed";
                            payout_instruction_id: string | null;
                            settlement_account: {
                                account_name: string;
                                account_number_last4: string;
                                bank_code: string;
                            } | null;
                            created_at: string;
                        }[];
                        next_cursor: string | null;
                    };
                };
            };
            /** @description invalid_request */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "invalid_request";
                        };
                    };
                };
            };
            /** @description invalid_signature, replayed_request */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "invalid_signature" | "replayed_request";
                        };
                    };
                };
            };
            /** @description merchant_suspended */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "merchant_suspended";
                        };
                    };
                };
            };
            /** @description rate_limited */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "rate_limited";
                        };
                    };
                };
            };
            /** @description internal */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "internal";
                        };
                    };
                };
            };
            /** @description service_unavailable */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "service_unavailable";
                        };
                    };
                };
            };
            /** @description Error */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getStatement: {
        parameters: {
            query: {
                date: string;
                sub_merchant_id?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description OK */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/csv": string;
                };
            };
            /** @description invalid_request */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "invalid_request";
                        };
                    };
                };
            };
            /** @description invalid_signature, replayed_request */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "invalid_signature" | "replayed_request";
                        };
                    };
                };
            };
            /** @description merchant_suspended */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "merchant_suspended";
                        };
                    };
                };
            };
            /** @description date_in_future */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "date_in_future";
                        };
                    };
                };
            };
            /** @description rate_limited */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "rate_limited";
                        };
                    };
                };
            };
            /** @description internal */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "internal";
                        };
                    };
                };
            };
            /** @description service_unavailable */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "service_unavailable";
                        };
                    };
                };
            };
            /** @description Error */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    listPayouts: {
        parameters: {
            query?: {
                limit?: number;
                cursor?: string;
                out_payout_no?: string;
                status?: "queued" | "processing" | "succeeded" | "failed" | "returned";
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description OK */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        data: {
                            payout_id: string;
                            out_payout_no: string;
                            amount: number;
                            fee: number;
                            /** @constant */
                            currency: "CNY";
                            payee: {
                                account_name: string;
                                account_number_last4: string;
                                bank_code: string;
                            };
                            purpose: string;
                            /** @enum {string} */
                            urgency: "normal" | "urgent";
                            /** @enum {string} */
                            status: "queued" | "processing" | "succeeded" | "failed" | "returned";
                            rail: ("hvps" | "beps" | "ibps" | "bank_direct") | null;
                            /** @description Why this rail, or why it waits, in words */
                            route_reason: string;
                            failure_code: string | null;
                            batch_id: string | null;
                            created_at: string;
                            succeeded_at: string | null;
                            returned_at: string | null;
                        }[];
                        next_cursor: string | null;
                    };
                };
            };
            /** @description invalid_request */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "invalid_request";
                        };
                    };
                };
            };
            /** @description invalid_signature, replayed_request */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "invalid_signature" | "replayed_request";
                        };
                    };
                };
            };
            /** @description merchant_suspended */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "merchant_suspended";
                        };
                    };
                };
            };
            /** @description rate_limited */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "rate_limited";
                        };
                    };
                };
            };
            /** @description internal */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "internal";
                        };
                    };
                };
            };
            /** @description service_unavailable */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "service_unavailable";
                        };
                    };
                };
            };
            /** @description Error */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    createPayout: {
        parameters: {
            query?: never;
            header?: {
                "Idempotency-Key"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    out_payout_no: string;
                    amount: number;
                    /**
                     * @default CNY
                     * @constant
                     */
                    currency?: "CNY";
                    payee: {
                        account_name: string;
                        account_number: string;
                        bank_code: string;
                    };
                    purpose: string;
                    /**
                     * @default normal
                     * @enum {string}
                     */
                    urgency?: "normal" | "urgent";
                };
            };
        };
        responses: {
            /** @description OK */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        payout_id: string;
                        out_payout_no: string;
                        amount: number;
                        fee: number;
                        /** @constant */
                        currency: "CNY";
                        payee: {
                            account_name: string;
                            account_number_last4: string;
                            bank_code: string;
                        };
                        purpose: string;
                        /** @enum {string} */
                        urgency: "normal" | "urgent";
                        /** @enum {string} */
                        status: "queued" | "processing" | "succeeded" | "failed" | "returned";
                        rail: ("hvps" | "beps" | "ibps" | "bank_direct") | null;
                        /** @description Why this rail, or why it waits, in words */
                        route_reason: string;
                        failure_code: string | null;
                        batch_id: string | null;
                        created_at: string;
                        succeeded_at: string | null;
                        returned_at: string | null;
                    };
                };
            };
            /** @description invalid_request */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "invalid_request";
                        };
                    };
                };
            };
            /** @description invalid_signature, replayed_request */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "invalid_signature" | "replayed_request";
                        };
                    };
                };
            };
            /** @description merchant_suspended, forbidden */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "merchant_suspended" | "forbidden";
                        };
                    };
                };
            };
            /** @description idempotency_conflict, duplicate_out_trade_no */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "idempotency_conflict" | "duplicate_out_trade_no";
                        };
                    };
                };
            };
            /** @description insufficient_balance, payouts_held */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "insufficient_balance" | "payouts_held";
                        };
                    };
                };
            };
            /** @description rate_limited */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "rate_limited";
                        };
                    };
                };
            };
            /** @description internal */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "internal";
                        };
                    };
                };
            };
            /** @description service_unavailable, rail_unavailable */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "service_unavailable" | "rail_unavailable";
                        };
                    };
                };
            };
            /** @description Error */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getPayout: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                payout_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description OK */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        payout_id: string;
                        out_payout_no: string;
                        amount: number;
                        fee: number;
                        /** @constant */
                        currency: "CNY";
                        payee: {
                            account_name: string;
                            account_number_last4: string;
                            bank_code: string;
                        };
                        purpose: string;
                        /** @enum {string} */
                        urgency: "normal" | "urgent";
                        /** @enum {string} */
                        status: "queued" | "processing" | "succeeded" | "failed" | "returned";
                        rail: ("hvps" | "beps" | "ibps" | "bank_direct") | null;
                        /** @description Why this rail, or why it waits, in words */
                        route_reason: string;
                        failure_code: string | null;
                        batch_id: string | null;
                        created_at: string;
                        succeeded_at: string | null;
                        returned_at: string | null;
                    };
                };
            };
            /** @description invalid_request */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "invalid_request";
                        };
                    };
                };
            };
            /** @description invalid_signature, replayed_request */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "invalid_signature" | "replayed_request";
                        };
                    };
                };
            };
            /** @description merchant_suspended */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "merchant_suspended";
                        };
                    };
                };
            };
            /** @description not_found */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "not_found";
                        };
                    };
                };
            };
            /** @description rate_limited */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "rate_limited";
                        };
                    };
                };
            };
            /** @description internal */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "internal";
                        };
                    };
                };
            };
            /** @description service_unavailable */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "service_unavailable";
                        };
                    };
                };
            };
            /** @description Error */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    createPayoutBatche: {
        parameters: {
            query?: never;
            header?: {
                "Idempotency-Key"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    out_batch_no: string;
                    /** @description At most 1000 lines, each with the fields of POST /v1/payouts */
                    payouts: unknown[];
                };
            };
        };
        responses: {
            /** @description OK */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        batch_id: string;
                        out_batch_no: string;
                        line_count: number;
                        counts: {
                            queued: number;
                            processing: number;
                            succeeded: number;
                            failed: number;
                            returned: number;
                            /** @description Lines refused at creation (bad input, insufficient_balance, …): no payout, nothing reserved */
                            rejected: number;
                        };
                        lines: {
                            /** @description 0-based, in the order sent */
                            line: number;
                            out_payout_no: string | null;
                            payout: {
                                payout_id: string;
                                out_payout_no: string;
                                amount: number;
                                fee: number;
                                /** @constant */
                                currency: "CNY";
                                payee: {
                                    account_name: string;
                                    account_number_last4: string;
                                    bank_code: string;
                                };
                                purpose: string;
                                /** @enum {string} */
                                urgency: "normal" | "urgent";
                                /** @enum {string} */
                                status: "queued" | "processing" | "succeeded" | "failed" | "returned";
                                rail: ("hvps" | "beps" | "ibps" | "bank_direct") | null;
                                /** @description Why this rail, or why it waits, in words */
                                route_reason: string;
                                failure_code: string | null;
                                batch_id: string | null;
                                created_at: string;
                                succeeded_at: string | null;
                                returned_at: string | null;
                            } | null;
                            error: {
                                code: string;
                                /** @description Names the field: payouts.<line>.<field> */
                                message: string;
                                field?: string;
                            } | null;
                        }[];
                        created_at: string;
                    };
                };
            };
            /** @description invalid_request */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "invalid_request";
                        };
                    };
                };
            };
            /** @description invalid_signature, replayed_request */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "invalid_signature" | "replayed_request";
                        };
                    };
                };
            };
            /** @description merchant_suspended */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "merchant_suspended";
                        };
                    };
                };
            };
            /** @description idempotency_conflict, duplicate_out_trade_no */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "idempotency_conflict" | "duplicate_out_trade_no";
                        };
                    };
                };
            };
            /** @description rate_limited */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "rate_limited";
                        };
                    };
                };
            };
            /** @description internal */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "internal";
                        };
                    };
                };
            };
            /** @description service_unavailable */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "service_unavailable";
                        };
                    };
                };
            };
            /** @description Error */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getPayoutBatche: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                batch_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description OK */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        batch_id: string;
                        out_batch_no: string;
                        line_count: number;
                        counts: {
                            queued: number;
                            processing: number;
                            succeeded: number;
                            failed: number;
                            returned: number;
                            /** @description Lines refused at creation (bad input, insufficient_balance, …): no payout, nothing reserved */
                            rejected: number;
                        };
                        lines: {
                            /** @description 0-based, in the order sent */
                            line: number;
                            out_payout_no: string | null;
                            payout: {
                                payout_id: string;
                                out_payout_no: string;
                                amount: number;
                                fee: number;
                                /** @constant */
                                currency: "CNY";
                                payee: {
                                    account_name: string;
                                    account_number_last4: string;
                                    bank_code: string;
                                };
                                purpose: string;
                                /** @enum {string} */
                                urgency: "normal" | "urgent";
                                /** @enum {string} */
                                status: "queued" | "processing" | "succeeded" | "failed" | "returned";
                                rail: ("hvps" | "beps" | "ibps" | "bank_direct") | null;
                                /** @description Why this rail, or why it waits, in words */
                                route_reason: string;
                                failure_code: string | null;
                                batch_id: string | null;
                                created_at: string;
                                succeeded_at: string | null;
                                returned_at: string | null;
                            } | null;
                            error: {
                                code: string;
                                /** @description Names the field: payouts.<line>.<field> */
                                message: string;
                                field?: string;
                            } | null;
                        }[];
                        created_at: string;
                    };
                };
            };
            /** @description invalid_request */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "invalid_request";
                        };
                    };
                };
            };
            /** @description invalid_signature, replayed_request */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "invalid_signature" | "replayed_request";
                        };
                    };
                };
            };
            /** @description merchant_suspended */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "merchant_suspended";
                        };
                    };
                };
            };
            /** @description not_found */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "not_found";
                        };
                    };
                };
            };
            /** @description rate_limited */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "rate_limited";
                        };
                    };
                };
            };
            /** @description internal */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "internal";
                        };
                    };
                };
            };
            /** @description service_unavailable */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "service_unavailable";
                        };
                    };
                };
            };
            /** @description Error */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    listDeposits: {
        parameters: {
            query?: {
                limit?: number;
                cursor?: string;
                status?: "credited" | "returning" | "returned";
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description OK */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        data: {
                            deposit_id: string;
                            amount: number;
                            /** @constant */
                            currency: "CNY";
                            payer: {
                                account_name: string;
                                account_number_last4: string;
                                bank_code: string;
                            };
                            /**
                             * @description returning: being sent back to the payer
                             * @enum {string}
                             */
                            status: "credited" | "returning" | "returned";
                            failure_code: string | null;
                            created_at: string;
                            returned_at: string | null;
                        }[];
                        next_cursor: string | null;
                    };
                };
            };
            /** @description invalid_request */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "invalid_request";
                        };
                    };
                };
            };
            /** @description invalid_signature, replayed_request */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "invalid_signature" | "replayed_request";
                        };
                    };
                };
            };
            /** @description merchant_suspended */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "merchant_suspended";
                        };
                    };
                };
            };
            /** @description rate_limited */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "rate_limited";
                        };
                    };
                };
            };
            /** @description internal */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "internal";
                        };
                    };
                };
            };
            /** @description service_unavailable */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "service_unavailable";
                        };
                    };
                };
            };
            /** @description Error */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getEvent: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                event_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description OK */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        id: string;
                        /** @enum {string} */
                        type: "payment.succeeded" | "payment.failed" | "refund.succeeded" | "refund.failed" | "agreement.signed" | "agreement.unbound" | "payout.succeeded" | "payout.failed" | "payout.returned" | "deposit.credited";
                        created_at: string;
                        data: {
                            [key: string]: unknown;
                        };
                        /** @enum {string} */
                        status: "pending" | "delivered" | "failed" | "no_url";
                        delivered_at: string | null;
                        attempt_count: number;
                        last_attempt: {
                            attempt_no: number;
                            started_at: string;
                            /** @enum {string} */
                            result: "in_flight" | "acknowledged" | "http_error" | "timeout" | "network_error" | "no_key" | "abandoned" | "refused";
                            http_status: number | null;
                            error: string | null;
                            duration_ms: number | null;
                        } | null;
                        next_attempt_at: string | null;
                    };
                };
            };
            /** @description invalid_request */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "invalid_request";
                        };
                    };
                };
            };
            /** @description invalid_signature, replayed_request */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "invalid_signature" | "replayed_request";
                        };
                    };
                };
            };
            /** @description merchant_suspended */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "merchant_suspended";
                        };
                    };
                };
            };
            /** @description not_found */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "not_found";
                        };
                    };
                };
            };
            /** @description rate_limited */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "rate_limited";
                        };
                    };
                };
            };
            /** @description internal */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "internal";
                        };
                    };
                };
            };
            /** @description service_unavailable */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {string} */
                            code?: "service_unavailable";
                        };
                    };
                };
            };
            /** @description Error */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
}
