/**
 * ManagedRoles without a server: the passwords it generates, the order it
 * makes roles in, what its diff calls a change, and how a stack that has the
 * provider's Roles hands their passwords over (the e2e upgrade test runs it
 * for real).
 */
import * as pulumi from "@pulumi/pulumi";
import { beforeEach, describe, expect, it } from "vitest";
import { installMocks, MANAGED_ROLES, ofType, reset, settle, valueOf } from "./mocks";

installMocks();
import { RolePair } from "../../components";
import { wantedAttributes } from "../../components/adoptedRole";
import { PROVIDER_ROLE } from "../../components/loginRole";
import { creationOrder, generatePassword, managedRolesProvider, ManagedRoleSpec, PASSWORD_LENGTH } from "../../components/managedRoles";
import { labServer as server } from "./fixtures";

beforeEach(reset);

describe("generatePassword", () => {
    it("gives 40 alphanumerics with a lower case letter, an upper case letter and a digit, different each time", () => {
        const seen = new Set<string>();
        for (let i = 0; i < 200; i++) {
            const password = generatePassword();
            expect(password).toMatch(/^[A-Za-z0-9]{40}$/);
            expect(password).toMatch(/[a-z]/);
            expect(password).toMatch(/[A-Z]/);
            expect(password).toMatch(/[0-9]/);
            seen.add(password);
        }
        expect(PASSWORD_LENGTH).toBe(40);
        expect(seen.size).toBe(200);
    });

    it("uses every one of the 62 characters", () => {
        const used = new Set(Array.from({ length: 50 }, () => generatePassword()).join(""));
        expect(used.size).toBe(62);
    });
});

const spec = (name: string, memberOf: string[] = [], rotation = 0): ManagedRoleSpec => ({
    name,
    connectionLimit: 5,
    rotation,
    memberOf,
});

describe("creationOrder", () => {
    it("puts a role after the roles of the same resource it is a member of", () => {
        // Slots sorted, alternate first, but it is a member of the runtime role.
        expect(
            creationOrder({
                alternate: spec("shop_app_alt", ["shop_app"]),
                migrate: spec("shop_migrate"),
                runtime: spec("shop_app"),
            }),
        ).toEqual(["runtime", "alternate", "migrate"]);
    });

    it("ignores memberships of roles outside the resource", () => {
        expect(creationOrder({ ro: spec("shop_ro", ["pg_read_all_data"]) })).toEqual(["ro"]);
    });

    it("refuses roles that are members of each other, naming them", () => {
        expect(() => creationOrder({ a: spec("a_role", ["b_role"]), b: spec("b_role", ["a_role"]) })).toThrow(
            "ManagedRoles: roles a -> b -> a are members of each other",
        );
    });
});

describe("managedRolesProvider.diff", () => {
    const connection = { host: "10.0.0.5", port: 5433, username: "admin", password: "old", database: "postgres", sslmode: "require" };
    const roles = { migrate: spec("shop_migrate"), runtime: spec("shop_app") };
    const now = Object.fromEntries(Object.entries(roles).map(([slot, s]) => [slot, wantedAttributes({ ...s, memberOf: [...s.memberOf] })]));
    const olds = { connection, roles, passwords: { migrate: "a", runtime: "b" }, now } as any;
    const changes = async (news: Record<string, unknown>) =>
        (await managedRolesProvider.diff!("id", olds, { connection, roles, ...news } as any)).changes;

    it("sees no change when nothing differs, nor when only the admin password or existingPasswords do", async () => {
        expect(await changes({})).toBe(false);
        expect(await changes({ connection: { ...connection, password: "new" } })).toBe(false);
        expect(await changes({ existingPasswords: { runtime: "taken" } })).toBe(false);
    });

    it.each([
        ["a rotation counter is bumped", { roles: { ...roles, runtime: spec("shop_app", [], 1) } }],
        ["a role is renamed", { roles: { ...roles, runtime: spec("shop_application") } }],
        ["a connection limit changes", { roles: { ...roles, runtime: { ...spec("shop_app"), connectionLimit: 9 } } }],
        ["a slot is added", { roles: { ...roles, alternate: spec("shop_app_alt", ["shop_app"]) } }],
        ["a slot is removed", { roles: { migrate: roles.migrate } }],
        ["the server moved", { connection: { ...connection, port: 5434 } }],
    ])("sees a change when %s", async (_what, news) => {
        expect(await changes(news)).toBe(true);
    });

    it.each([
        ["was dropped behind the stack's back", { runtime: undefined }],
        ["got another limit", { runtime: { ...now.runtime, connectionLimit: 50 } }],
        ["was made a superuser", { runtime: { ...now.runtime, superuser: true } }],
        ["joined another role", { runtime: { ...now.runtime, memberOf: ["pg_write_all_data"] } }],
    ])("sees drift to undo when a role %s", async (_what, drifted) => {
        const read = { ...now, ...drifted };
        if (drifted.runtime === undefined) delete read.runtime;
        const diff = await managedRolesProvider.diff!("id", { ...olds, now: read }, { connection, roles } as any);
        expect(diff.changes).toBe(true);
    });
});

describe("upgrading a stack that has the provider's Roles", () => {
    const urn = (name: string) => `urn:pulumi:test::app-databases::app-databases:index:RolePair$${PROVIDER_ROLE}::${name}`;
    const earlier = [
        { urn: urn("shop-migrate"), type: PROVIDER_ROLE, outputs: { name: "shop_migrate", password: "kept-migrate" } },
        { urn: urn("shop-app"), type: PROVIDER_ROLE, outputs: { name: "shop_app", password: "kept-runtime" } },
    ];

    it("takes the roles over with the passwords they have and keeps the old Roles, retained, for one up", async () => {
        const pair = new RolePair("shop", { app: "shop", connection: server().connection, stateAtLastUp: earlier });
        expect(await valueOf(pair.runtimePassword)).toBe("kept-runtime");
        expect(await valueOf(pair.migratePassword)).toBe("kept-migrate");
        await settle();
        const [roles] = ofType(MANAGED_ROLES);
        expect(roles.inputs.existingPasswords).toEqual({ migrate: "kept-migrate", runtime: "kept-runtime" });
        expect(roles.secretInputs).toContain("existingPasswords");
        const kept = ofType(PROVIDER_ROLE);
        expect(kept.map((r) => [r.name, r.inputs.name])).toEqual([
            ["shop-migrate", "shop_migrate"],
            ["shop-app", "shop_app"],
        ]);
        expect(await pulumi.isSecret(pair.runtimePassword)).toBe(true);
    });

    it("passes no passwords once the stack has the ManagedRoles (the next up forgets the old Roles)", async () => {
        const upgraded = [
            ...earlier,
            { urn: `urn:pulumi:test::app-databases::${MANAGED_ROLES}::shop-role-pair`, type: MANAGED_ROLES, outputs: {} },
        ];
        new RolePair("shop", { app: "shop", connection: server().connection, stateAtLastUp: upgraded });
        await settle();
        const [roles] = ofType(MANAGED_ROLES);
        expect(roles.inputs.existingPasswords).toBeUndefined();
    });

    it("leaves a Role of the same resource name but another role alone", async () => {
        const other = [{ ...earlier[1], outputs: { name: "someone_else", password: "theirs" } }];
        const pair = new RolePair("shop", { app: "shop", connection: server().connection, stateAtLastUp: other });
        expect(await valueOf(pair.runtimePassword)).toBe("pw-shop-role-pair-runtime");
        await settle();
        expect(ofType(PROVIDER_ROLE)).toEqual([]);
    });
});
