/** The passwords the stack generates for the login roles it makes. */
import * as crypto from "node:crypto";

/** Long enough for any attacker, alphanumeric so it needs no escaping in URLs or shells. */
export const PASSWORD_LENGTH = 40;

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/**
 * A password of `length` characters from the 62 alphanumerics, uniformly
 * (bytes of 248 and above are skipped: 248 = 4 × 62), with at least one lower
 * case letter, one upper case letter and one digit, as the RandomPassword
 * earlier versions used was asked for.
 */
export function generatePassword(length: number = PASSWORD_LENGTH): string {
    for (;;) {
        let out = "";
        for (const byte of crypto.randomBytes(length * 2)) {
            if (byte < 248) out += ALPHABET[byte % ALPHABET.length];
            if (out.length === length) break;
        }
        if (out.length === length && /[a-z]/.test(out) && /[A-Z]/.test(out) && /[0-9]/.test(out)) return out;
    }
}
