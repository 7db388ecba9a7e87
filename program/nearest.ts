/**
 * The nearest of a few valid names to a misspelt one, for "did you mean"
 * hints on unknown config keys.
 */

/** Edit distance with adjacent swaps counted as one edit (hots -> host), case ignored. */
export function editDistance(a: string, b: string): number {
    const s = a.toLowerCase();
    const t = b.toLowerCase();
    const d: number[][] = Array.from({ length: s.length + 1 }, (_, i) => [i, ...Array<number>(t.length).fill(0)]);
    for (let j = 1; j <= t.length; j++) d[0][j] = j;
    for (let i = 1; i <= s.length; i++) {
        for (let j = 1; j <= t.length; j++) {
            const cost = s[i - 1] === t[j - 1] ? 0 : 1;
            d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
            if (i > 1 && j > 1 && s[i - 1] === t[j - 2] && s[i - 2] === t[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
        }
    }
    return d[s.length][t.length];
}

/**
 * The candidate closest to `word`, or undefined when none is close enough to
 * be a typo of it: at most 2 edits, and fewer than half the word's letters.
 */
export function nearestName(word: string, candidates: readonly string[]): string | undefined {
    let best: string | undefined;
    let bestDistance = Infinity;
    for (const candidate of candidates) {
        const distance = editDistance(word, candidate);
        if (distance < bestDistance) [best, bestDistance] = [candidate, distance];
    }
    return bestDistance <= 2 && bestDistance * 2 < Math.max(word.length, 2) ? best : undefined;
}
