/**
 * app-databases' policy pack: run it with
 * `pulumi preview --policy-pack policy` (README "Policies"). It checks what
 * the engine is about to apply, from any stack of this program (or a
 * hand-written @pulumi/postgresql program): no privileged role, every login
 * role bounded, verify-full to shared servers on prod stacks, headroom left
 * on every shared server. The rules themselves are in rules.ts.
 */
import { PolicyPack, ReportViolation } from "@pulumi/policy";
import {
    backupViolations,
    DEFAULT_CONFIG,
    headroomViolations,
    isProdStack,
    PackConfig,
    privilegedRoleViolations,
    stackOfUrn,
    tlsViolations,
    unboundedRoleViolations,
} from "./rules";

const config = (args: { getConfig<T extends object>(): T }): PackConfig => ({
    ...DEFAULT_CONFIG,
    ...args.getConfig<Partial<PackConfig>>(),
});

const report = (violations: readonly string[], reportViolation: ReportViolation) => violations.forEach((v) => reportViolation(v));

const CONFIG_SCHEMA = {
    properties: {
        prodStacks: { type: "array" as const, items: { type: "string" as const }, default: DEFAULT_CONFIG.prodStacks },
        minHeadroomShare: { type: "number" as const, minimum: 0, maximum: 1, default: DEFAULT_CONFIG.minHeadroomShare },
    },
};

/** The parent's type, from its URN's last `$`-separated type (`...::app-databases:index:DedicatedServer::name`). */
const parentType = (parentUrn: string | undefined): string | undefined => {
    const typePath = parentUrn?.split("::")[2];
    return typePath?.split("$").pop();
};

new PolicyPack("app-databases", {
    policies: [
        {
            name: "no-privileged-roles",
            description: "No role with SUPERUSER, CREATEROLE, CREATEDB, REPLICATION or BYPASSRLS, or in a role that gives server powers.",
            enforcementLevel: "mandatory",
            validateResource: (args, reportViolation) => report(privilegedRoleViolations(args.type, args.props), reportViolation),
        },
        {
            name: "bounded-login-roles",
            description: "Every login role has a CONNECTION LIMIT.",
            enforcementLevel: "mandatory",
            validateResource: (args, reportViolation) => report(unboundedRoleViolations(args.type, args.props), reportViolation),
        },
        {
            name: "verify-full-on-prod",
            description: "On prod stacks, the admin connection to every shared server uses sslmode verify-full.",
            enforcementLevel: "mandatory",
            configSchema: CONFIG_SCHEMA,
            validateResource: (args, reportViolation) => {
                if (!isProdStack(stackOfUrn(args.urn), config(args).prodStacks)) return;
                report(tlsViolations(args.type, args.name, args.props, parentType(args.opts.parent)), reportViolation);
            },
        },
        {
            name: "backups-on-prod",
            description: "On prod stacks, the app databases are backed up (the stack's backup block declares a backup runner).",
            enforcementLevel: "mandatory",
            configSchema: CONFIG_SCHEMA,
            validateStack: (args, reportViolation) => {
                const stack = stackOfUrn(args.resources[0]?.urn ?? "");
                if (!isProdStack(stack, config(args).prodStacks)) return;
                report(backupViolations(args.resources), reportViolation);
            },
        },
        {
            name: "budget-headroom",
            description: "Every shared server keeps a share of max_connections free after the stack's plan.",
            enforcementLevel: "advisory",
            configSchema: CONFIG_SCHEMA,
            validateResource: (args, reportViolation) =>
                report(headroomViolations(args.type, args.props, config(args).minHeadroomShare), reportViolation),
        },
    ],
});
