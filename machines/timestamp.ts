/**
 * ISO-8601 timestamps without `Date`: machines/ must not read the clock or depend on the host's
 * time zone, so parsing and formatting are plain calendar arithmetic (Howard Hinnant's
 * days-from-civil algorithms). Internally a timestamp is milliseconds since the Unix epoch (UTC).
 *
 * Accepted (liberal): `YYYY-MM-DD`, optional `T` or space, `HH:MM`, optional `:SS`, optional
 * fraction of any length (`.` or `,`), optional zone `Z`, `±HH`, `±HHMM` or `±HH:MM`.
 * A timestamp without a zone is read as UTC (the seed's examples all carry `Z`).
 * Fractions beyond milliseconds are truncated.
 *
 * Produced (strict): `YYYY-MM-DDTHH:MM:SSZ`, with `.mmm` only when the milliseconds are not zero,
 * so the seed's second-precision examples re-encode byte for byte.
 */

const ISO_PATTERN =
  /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?$/;

const MS_PER_DAY = 86_400_000;

function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146_097 + dayOfEra - 719_468;
}

function civilFromDays(days: number): [year: number, month: number, day: number] {
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const dayOfEra = z - era * 146_097;
  const yearOfEra = Math.floor(
    (dayOfEra - Math.floor(dayOfEra / 1460) + Math.floor(dayOfEra / 36_524) - Math.floor(dayOfEra / 146_096)) / 365,
  );
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100));
  const mp = Math.floor((5 * dayOfYear + 2) / 153);
  const day = dayOfYear - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  return [yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day];
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/** Parses an ISO-8601 timestamp to epoch milliseconds, or returns undefined if it is not one. */
export function parseTimestamp(text: string): number | undefined {
  const match = ISO_PATTERN.exec(text.trim());
  if (!match) return undefined;
  const [, y, mo, d, h = '0', mi = '0', s = '0', fraction = '', zone = 'Z'] = match;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  // A leap second (":60") is folded into the last millisecond of its minute.
  const second = Math.min(Number(s), 59);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  if (hour > 23 || minute > 59 || Number(s) > 60) return undefined;
  const millis = Number(fraction.slice(0, 3).padEnd(3, '0'));
  let offsetMinutes = 0;
  if (zone !== 'Z' && zone !== 'z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    const zoneHours = Number(digits.slice(0, 2));
    const zoneMinutes = Number(digits.slice(2) || '0');
    if (zoneHours > 23 || zoneMinutes > 59) return undefined;
    offsetMinutes = sign * (zoneHours * 60 + zoneMinutes);
  }
  return (
    daysFromCivil(year, month, day) * MS_PER_DAY +
    ((hour * 60 + minute - offsetMinutes) * 60 + second) * 1000 +
    millis
  );
}

const pad = (value: number, width: number): string => String(value).padStart(width, '0');

/** Formats epoch milliseconds as UTC ISO-8601 (see the module comment for the exact form). */
export function formatTimestamp(epochMs: number): string {
  const ms = Math.trunc(epochMs);
  const days = Math.floor(ms / MS_PER_DAY);
  const inDay = ms - days * MS_PER_DAY;
  const [year, month, day] = civilFromDays(days);
  const hour = Math.floor(inDay / 3_600_000);
  const minute = Math.floor(inDay / 60_000) % 60;
  const second = Math.floor(inDay / 1000) % 60;
  const millis = inDay % 1000;
  const yearText = year >= 0 && year <= 9999 ? pad(year, 4) : (year < 0 ? '-' : '+') + pad(Math.abs(year), 6);
  const fractionText = millis === 0 ? '' : `.${pad(millis, 3)}`;
  return `${yearText}-${pad(month, 2)}-${pad(day, 2)}T${pad(hour, 2)}:${pad(minute, 2)}:${pad(second, 2)}${fractionText}Z`;
}
