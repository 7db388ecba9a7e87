/**
 * An app's data for the copy and move tests: about 1000 rows in two schemas
 * (`public` and `ledger`), a sequence in use, a view and a large object,
 * made by the app's migrate role as its migrations would. `fingerprint`
 * reads the same facts on any copy, independently of the copy's own checks.
 */
import type { Client } from "pg";

/** Creates the app's objects and rows; `client` is logged in as (or SET ROLE to) the migrate role. */
export async function fillAppData(client: Client, schema = "ledger"): Promise<void> {
    await client.query(`
        CREATE SCHEMA IF NOT EXISTS ${schema};
        CREATE TABLE public.items (id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL, price numeric(10, 2),
            created timestamptz NOT NULL DEFAULT now(), attrs jsonb, photo bytea);
        CREATE SEQUENCE ${schema}.entry_ids START 1000;
        CREATE TABLE ${schema}.entries (id bigint PRIMARY KEY DEFAULT nextval('${schema}.entry_ids'),
            item_id integer NOT NULL REFERENCES public.items (id), amount double precision, note text);
        CREATE VIEW public.item_totals AS
            SELECT i.id, i.name, count(e.id) AS entries, sum(e.amount) AS total FROM public.items i LEFT JOIN ${schema}.entries e ON e.item_id = i.id GROUP BY i.id, i.name;
        INSERT INTO public.items (name, price, created, attrs, photo)
            SELECT 'item ' || g, g * 1.25, timestamptz '2024-01-01 00:00:00+00' + g * interval '1 hour', jsonb_build_object('n', g, 'tag', 't' || (g % 7)), decode(md5(g::text), 'hex')
            FROM generate_series(1, 400) g;
        INSERT INTO ${schema}.entries (item_id, amount, note)
            SELECT 1 + (g % 400), g / 3.0, CASE WHEN g % 5 = 0 THEN NULL ELSE 'note ' || g END FROM generate_series(1, 600) g;
        SELECT lo_from_bytea(0, convert_to('a large object of the app', 'UTF8'));
    `);
}

/** What a copy must carry, read plainly: per table its rows' digest, the sequences' next values, the view and the large objects. */
export async function fingerprint(client: Client, schema = "ledger"): Promise<Record<string, unknown>> {
    const one = async (sql: string) => (await client.query(sql)).rows[0];
    return {
        items: await one("SELECT count(*)::int AS n, md5(string_agg(t::text, '|' ORDER BY id)) AS digest FROM public.items t"),
        entries: await one(`SELECT count(*)::int AS n, md5(string_agg(t::text, '|' ORDER BY id)) AS digest FROM ${schema}.entries t`),
        sequence: await one(`SELECT last_value::text, is_called FROM ${schema}.entry_ids`),
        identity: await one("SELECT last_value::text, is_called FROM public.items_id_seq"),
        view: await one("SELECT count(*)::int AS n, sum(entries)::int AS entries FROM public.item_totals"),
        largeObjects: await one(
            "SELECT count(*)::int AS n, string_agg(convert_from(lo_get(oid), 'UTF8'), '|') AS content FROM pg_largeobject_metadata",
        ),
    };
}
