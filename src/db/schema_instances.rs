//! The tables instances sharing one PostgreSQL database share: their keys, the periods
//! their jobs claimed, attachment contents. Re-exported by `schema`.

diesel::table! {
    server_secrets (name) {
        name -> Text,
        value -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    jwt_keys (kid) {
        kid -> Text,
        secret -> Text,
        signs_from -> Timestamp,
        verifies_until -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    job_runs (name) {
        name -> Text,
        last_run_at -> Timestamp,
    }
}

diesel::table! {
    attachment_blobs (sha256) {
        sha256 -> Text,
        content -> Binary,
        created_at -> Timestamp,
    }
}
