/**
 * Keeps a Chatbot custom notification within what Slack posts. Chatbot renders `title` as a header and
 * `description` and `nextSteps` as section text; Slack's Block Kit refuses a header over 150 characters and a
 * section text over 3,000, and a refused message is simply not posted. So the renderer, not Slack, decides what
 * is cut: details go first, then the error message is shortened; what to do and the links always stay
 * (docs/alerts.md, "Length limits").
 */
export const CHATBOT_LIMITS = {
  title: 150,
  description: 3000,
  /** All next steps together (one section). */
  nextSteps: 3000,
} as const;

/** The shortest a shortened line gets: its label and the start of what it says. */
const MIN_CLIPPED_LINE = 60;
/** What the head lines need at their shortest; links may have the rest (a presigned URL is ~1,500). */
const HEAD_RESERVE = 800;
const ELLIPSIS = '…';

/** `text` cut to at most `max` UTF-16 units, ending in an ellipsis; never splits a surrogate pair. */
export function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  if (max <= ELLIPSIS.length) return ELLIPSIS.slice(0, Math.max(max, 0));
  let cut = text.slice(0, max - ELLIPSIS.length);
  if (/[\uD800-\uDBFF]$/.test(cut)) cut = cut.slice(0, -1);
  return `${cut.trimEnd()}${ELLIPSIS}`;
}

const joinedLength = (lines: string[]): number =>
  lines.reduce((n, l) => n + l.length, 0) + Math.max(lines.length - 1, 0);

export interface DescriptionParts {
  /** The lines every alert keeps (what ran, database, what happened, state now). */
  head: string[];
  /** Indexes of `head` that may be shortened, the first shortened first (the error message). */
  shrinkFirst: number[];
  /** Facts and warnings: kept while they fit, the rest counted in a last line. */
  details: string[];
  /** Links, one each (`<url|label>`): kept whole; only if they alone would crowd out the head, the last go. */
  links: string[];
}

/**
 * The description within `max` characters. Order of sacrifice: details (counted in a "more in the email"
 * line), then the head's shrinkable lines (down to MIN_CLIPPED_LINE), then trailing links (named as being in
 * the email), and last a hard cut of the head, so the result always fits.
 */
export function fitDescription(parts: DescriptionParts, max: number = CHATBOT_LIMITS.description): string {
  const links = [...parts.links];
  const omittedLinks: string[] = [];
  const linkLine = (): string[] =>
    links.length > 0 || omittedLinks.length > 0
      ? [
          [
            ...links,
            ...(omittedLinks.length > 0
              ? [`(${omittedLinks.join(' and ')} ${omittedLinks.length > 1 ? 'links' : 'link'} in the email)`]
              : []),
          ].join(' · '),
        ]
      : [];
  // The head is what the alert is about: links never crowd it out (the first, the execution, always stays).
  const linkRoom = Math.max(max / 2, max - HEAD_RESERVE);
  while (links.length > 1 && joinedLength(linkLine()) > linkRoom) {
    const dropped = links.pop();
    if (dropped === undefined) break;
    omittedLinks.unshift(/\|([^>]*)>$/.exec(dropped)?.[1] ?? 'a');
  }
  const tail = linkLine();
  const room = max - (tail.length > 0 ? joinedLength(tail) + 1 : 0);

  const moreNote = (n: number): string => `• …and ${n} more in the email`;
  // A head shortened to make room still says that details were left out.
  const headRoom = room - (parts.details.length > 0 ? moreNote(parts.details.length).length + 1 : 0);
  const head = [...parts.head];
  for (const i of parts.shrinkFirst) {
    const excess = joinedLength(head) - headRoom;
    if (excess <= 0) break;
    const line = head[i];
    if (line !== undefined) head[i] = clip(line, Math.max(line.length - excess, MIN_CLIPPED_LINE));
  }
  if (joinedLength(head) > room) {
    const text = clip(head.join('\n'), Math.max(room, 0));
    return [text, ...tail].filter((l) => l.length > 0).join('\n');
  }

  if (joinedLength([...head, ...parts.details]) <= room)
    return [...head, ...parts.details, ...tail].join('\n');
  const kept: string[] = [];
  for (const [i, detail] of parts.details.entries()) {
    const left = parts.details.length - i - 1;
    const reserve = left > 0 ? moreNote(left).length + 1 : 0;
    if (joinedLength([...head, ...kept, detail]) + reserve <= room) {
      kept.push(detail);
      continue;
    }
    const note = moreNote(parts.details.length - i);
    if (joinedLength([...head, ...kept, note]) <= room) kept.push(note);
    break;
  }
  return [...head, ...kept, ...tail].join('\n');
}

/** Next steps within the limit: each gets an equal share, so none is lost. */
export function fitNextSteps(steps: string[], max: number = CHATBOT_LIMITS.nextSteps): string[] {
  if (joinedLength(steps) <= max) return steps;
  const share = Math.floor((max - Math.max(steps.length - 1, 0)) / Math.max(steps.length, 1));
  return steps.map((s) => clip(s, share));
}
