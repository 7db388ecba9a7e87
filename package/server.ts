/**
 * The server contract as plain data: what an AppDatabase of the component
 * package needs to reach a shared server. A live provider object cannot cross
 * the language boundary, so each AppDatabase builds its own SharedServer from
 * these facts inside the package.
 */
import { resolveSharedServerArgs, SharedServerArgs, ServerConnection } from "../components/sharedServer";
import type { SslMode } from "../components/defaults";

/**
 * A ServerConnection as SharedServer takes it, checked with SharedServer's own rules
 * (so another language gets the TypeScript messages); throws on a bad value.
 */
export function sharedServerArgs(server: ServerConnection): SharedServerArgs {
    // A string from another language is checked as an sslmode by SharedServer itself.
    const args: SharedServerArgs = { ...server, sslmode: server.sslmode as SslMode | undefined };
    resolveSharedServerArgs(args);
    return args;
}
