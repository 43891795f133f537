//! diesel's view of the tables (see `migrations/`). Names follow dj-stripe's.

#![allow(missing_docs)]

diesel::table! {
    /// A webhook endpoint: where Stripe delivers, and the secret(s) that verify it.
    djstripe_webhookendpoint (id) {
        id -> BigInt,
        stripe_id -> Nullable<Text>,
        djstripe_uuid -> Text,
        url -> Text,
        secret -> Text,
        previous_secrets -> Text,
        api_version -> Nullable<Text>,
        enabled_events -> Text,
        livemode -> Bool,
        status -> Text,
        description -> Text,
        metadata -> Text,
        account -> Nullable<Text>,
        connect -> Bool,
        validation_method -> Text,
        tolerance -> BigInt,
        created -> Timestamp,
        updated -> Timestamp,
        /// Fetch the full v2 event for each thin notification (migration `endpoint_fetch_thin_events`).
        fetch_thin_events -> Bool,
        /// `inline`, `inbox`, or NULL for `DJSTRIPE_WEBHOOK_PROCESSING` (migration `create_inbox`).
        processing -> Nullable<Text>,
    }
}

diesel::table! {
    /// One row for every request that reached an endpoint, valid or not: the audit log.
    djstripe_webhookeventtrigger (id) {
        id -> BigInt,
        created -> Timestamp,
        updated -> Timestamp,
        remote_ip -> Text,
        headers -> Text,
        body -> Binary,
        body_truncated -> Bool,
        valid -> Bool,
        processed -> Bool,
        outcome -> Text,
        exception -> Text,
        traceback -> Text,
        event_id -> Nullable<Text>,
        event_type -> Nullable<Text>,
        webhook_endpoint_id -> Nullable<BigInt>,
        account -> Nullable<Text>,
        reprocess_of -> Nullable<BigInt>,
        djstripe_version -> Text,
    }
}

diesel::table! {
    /// Each Stripe event once, keyed by Stripe's id; present only once processed successfully.
    djstripe_event (id) {
        id -> Text,
        #[sql_name = "type"]
        type_ -> Text,
        api_version -> Nullable<Text>,
        created -> Timestamp,
        livemode -> Bool,
        data -> Text,
        account -> Nullable<Text>,
        request_id -> Nullable<Text>,
        idempotency_key -> Nullable<Text>,
        received -> Timestamp,
        processed -> Timestamp,
        times_processed -> Integer,
        /// Top-level fields without a column of their own, JSON (see the migration `event_extra`).
        extra -> Nullable<Text>,
    }
}

diesel::table! {
    /// A connected account's own secret API key, per mode.
    djstripe_account_key (id) {
        id -> BigInt,
        account -> Text,
        livemode -> Bool,
        secret_key -> Text,
        created -> Timestamp,
        updated -> Timestamp,
    }
}

diesel::table! {
    /// A user of the admin pages: a name and the argon2 hash of their password (a PHC string).
    djstripe_admin_user (id) {
        id -> BigInt,
        username -> Text,
        password_hash -> Text,
        created -> Timestamp,
        updated -> Timestamp,
    }
}

diesel::table! {
    djstripe_admin_session (id) {
        id -> Text,
        source -> Text,
        username -> Text,
        credential -> Text,
        created -> Timestamp,
        expires -> Timestamp,
    }
}

diesel::table! {
    /// Inbox mode: a verified event waiting for a worker (see the migration `create_inbox`).
    djstripe_inbox (event_id) {
        event_id -> Text,
        trigger_id -> BigInt,
        event_type -> Text,
        object_id -> Nullable<Text>,
        event_created -> Timestamp,
        event -> Text,
        state -> Text,
        attempts -> Integer,
        next_attempt -> Timestamp,
        lease_token -> Nullable<Text>,
        lease_until -> Nullable<Timestamp>,
        last_error -> Text,
        received -> Timestamp,
        updated -> Timestamp,
    }
}

diesel::table! {
    /// The newest event processed through the inbox for each object (the `skip_stale` guard).
    djstripe_object_watermark (object_id) {
        object_id -> Text,
        event_created -> Timestamp,
        event_id -> Text,
        updated -> Timestamp,
    }
}

diesel::joinable!(djstripe_webhookeventtrigger -> djstripe_webhookendpoint (webhook_endpoint_id));
diesel::allow_tables_to_appear_in_same_query!(
    djstripe_webhookendpoint,
    djstripe_webhookeventtrigger,
    djstripe_event,
    djstripe_account_key,
    djstripe_admin_user,
    djstripe_admin_session,
    djstripe_inbox,
    djstripe_object_watermark
);
