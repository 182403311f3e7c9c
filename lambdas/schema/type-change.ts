/**
 * Whether changing a column from one type to another (as `format_type` prints them) can lose data. Only
 * conversions known to keep every value are `widening`; everything else, including conversions pgshift cannot
 * reason about, is `narrowing`, so the reviewer looks at it.
 */
export type TypeChangeVerdict = 'widening' | 'narrowing';

interface ParsedType {
  base: string;
  /** Length, precision, or fractional-seconds precision; Infinity when unconstrained. */
  size: number;
  scale: number;
  array: boolean;
}

const INTEGER_DIGITS: Record<string, number> = { smallint: 5, integer: 10, bigint: 19 };
const INTEGER_RANK: Record<string, number> = { smallint: 2, integer: 4, bigint: 8 };
const STRING_TYPES = new Set(['character varying', 'character', 'text', 'citext']);
const TIME_RANK: Record<string, number> = {
  date: 1,
  'timestamp without time zone': 2,
  'timestamp with time zone': 3,
};

/** Parses `numeric(10,2)`, `character varying(40)[]`, `timestamp(3) with time zone`, `integer`... */
export function parseFormattedType(text: string): ParsedType {
  let t = text.trim();
  let array = false;
  while (t.endsWith('[]')) {
    array = true;
    t = t.slice(0, -2);
  }
  const m = /^([^(]+)(?:\((\d+)(?:,\s*(\d+))?\))?\s*(.*)$/.exec(t);
  if (!m) return { base: t, size: Infinity, scale: 0, array };
  const base = (m[1] + (m[4] ? ' ' + m[4] : '')).trim();
  const size = m[2] === undefined ? Infinity : Number(m[2]);
  const scale = m[3] === undefined ? 0 : Number(m[3]);
  return { base, size, scale, array };
}

function numericWidens(from: ParsedType, to: ParsedType): boolean {
  if (to.size === Infinity) return true;
  if (from.size === Infinity) return false;
  return to.scale >= from.scale && to.size - to.scale >= from.size - from.scale;
}

export function classifyTypeChange(beforeType: string, afterType: string): TypeChangeVerdict {
  const from = parseFormattedType(beforeType);
  const to = parseFormattedType(afterType);
  if (from.array !== to.array) return 'narrowing';
  // Every value has a text form: converting to unbounded text keeps it.
  if (to.base === 'text' || (to.base === 'character varying' && to.size === Infinity)) return 'widening';
  if (STRING_TYPES.has(from.base) && STRING_TYPES.has(to.base)) {
    return to.size >= from.size ? 'widening' : 'narrowing';
  }
  const [fromRank, toRank] = [INTEGER_RANK[from.base], INTEGER_RANK[to.base]];
  if (fromRank !== undefined && toRank !== undefined) return toRank >= fromRank ? 'widening' : 'narrowing';
  const fromDigits = INTEGER_DIGITS[from.base];
  if (fromDigits !== undefined && to.base === 'numeric')
    return numericWidens({ ...from, size: fromDigits, scale: 0 }, to) ? 'widening' : 'narrowing';
  if (from.base === 'numeric' && to.base === 'numeric')
    return numericWidens(from, to) ? 'widening' : 'narrowing';
  if ((from.base === 'smallint' || from.base === 'integer') && to.base === 'double precision')
    return 'widening';
  if (from.base === 'smallint' && to.base === 'real') return 'widening';
  if (from.base === 'real' && to.base === 'double precision') return 'widening';
  const [fromTime, toTime] = [TIME_RANK[from.base], TIME_RANK[to.base]];
  if (fromTime !== undefined && toTime !== undefined) {
    if (toTime < fromTime) return 'narrowing';
    const fromPrecision = from.base === 'date' ? Infinity : from.size;
    return from.base === 'date' || to.size >= fromPrecision ? 'widening' : 'narrowing';
  }
  if (from.base === to.base) return to.size >= from.size && to.scale >= from.scale ? 'widening' : 'narrowing';
  return 'narrowing';
}
