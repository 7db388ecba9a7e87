/**
 * Seed 002's server as its services left it, before the program ever ran: two
 * databases whose objects all belong to `postgres` in schemas `tracksolid` and
 * `reporting`, four roles other tools use, pgcrypto in `public`; and the lab's
 * hand-made `grafana` role owning its database (seed 000). Used by
 * test/e2e/brownfield.test.ts and by the README walkthrough's test.
 */
export const PW = "other-tools-pw";
export const GRAFANA_PW = "grafana-known-pw-1";

/** The server as the services left it, before the program ever ran. */
export const SEED_SERVER = [
    `CREATE ROLE analytics_ro LOGIN CONNECTION LIMIT 8 PASSWORD '${PW}'`,
    `CREATE ROLE dashboard_ro LOGIN CONNECTION LIMIT 12 PASSWORD '${PW}'`,
    `CREATE ROLE grafana_ro LOGIN CONNECTION LIMIT 5 PASSWORD '${PW}'`,
    `CREATE ROLE reporting_refresher LOGIN CONNECTION LIMIT 3 PASSWORD '${PW}'`,
    `CREATE DATABASE tracksolid_db`,
    `CREATE DATABASE fleet_platform`,
    `CREATE ROLE grafana LOGIN PASSWORD '${GRAFANA_PW}'`,
    `CREATE DATABASE grafana OWNER grafana`,
];

export const SEED_TRACKSOLID = [
    `CREATE SCHEMA tracksolid`,
    `CREATE SCHEMA reporting`,
    `CREATE TABLE tracksolid.positions (id bigserial PRIMARY KEY, device text NOT NULL, speed int)`,
    `INSERT INTO tracksolid.positions (device, speed) SELECT 'dev' || (g % 7), g % 120 FROM generate_series(1, 500) g`,
    `CREATE TABLE tracksolid.devices (imei text PRIMARY KEY, label text)`,
    `INSERT INTO tracksolid.devices SELECT 'imei' || g, 'truck ' || g FROM generate_series(1, 20) g`,
    `CREATE SEQUENCE tracksolid.batch_seq`,
    `SELECT nextval('tracksolid.batch_seq') FROM generate_series(1, 5)`,
    `CREATE FUNCTION tracksolid.kmh(int) RETURNS numeric LANGUAGE sql IMMUTABLE AS 'SELECT $1 * 1.0'`,
    `CREATE TABLE reporting.daily (day date PRIMARY KEY, trips int)`,
    `INSERT INTO reporting.daily SELECT current_date - g, g FROM generate_series(1, 30) g`,
    `CREATE VIEW reporting.v_speeds AS SELECT device, max(speed) AS top FROM tracksolid.positions GROUP BY device`,
    // A view the refresher owns: it stays the refresher's.
    `CREATE VIEW reporting.v_trips AS SELECT day, trips FROM reporting.daily`,
    `ALTER VIEW reporting.v_trips OWNER TO reporting_refresher`,
    `GRANT USAGE ON SCHEMA reporting TO reporting_refresher, analytics_ro`,
    `GRANT SELECT ON ALL TABLES IN SCHEMA reporting TO analytics_ro`,
    `GRANT SELECT ON reporting.daily TO reporting_refresher`,
    `GRANT USAGE ON SCHEMA tracksolid TO analytics_ro`,
    `GRANT SELECT ON tracksolid.positions TO analytics_ro`,
];

export const SEED_FLEET = [
    // Extension objects in an app schema: they never move.
    `CREATE EXTENSION pgcrypto`,
    `CREATE TABLE public.vehicles (id serial PRIMARY KEY, plate text)`,
    `INSERT INTO public.vehicles (plate) SELECT 'P-' || g FROM generate_series(1, 40) g`,
];

export const SEED_GRAFANA = [
    `CREATE TABLE dashboard (id serial PRIMARY KEY, title text)`,
    `INSERT INTO dashboard (title) VALUES ('home'), ('fleet')`,
];
