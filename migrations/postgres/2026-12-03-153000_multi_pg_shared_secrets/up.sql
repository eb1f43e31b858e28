-- Secrets every instance sharing a PostgreSQL database must agree on, created once by the
-- first instance to start (under an advisory lock). SQLite deployments keep them in the
-- data folder; the tables stay empty there.

-- Named secrets: the VAPID private key.
CREATE TABLE server_secrets (
    name TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

-- The access-token key ring: the newest key whose signs_from has passed signs; every key
-- verifies tokens until verifies_until (none: until a newer key replaces it).
CREATE TABLE jwt_keys (
    kid TEXT PRIMARY KEY NOT NULL,
    secret TEXT NOT NULL,
    signs_from TIMESTAMP NOT NULL,
    verifies_until TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);
