// Belgian national register (INSZ/NISS) and BIS number validation: YYMMDDSSSCC, modulo-97 check
// digits, with the "2" prefix for people born from 2000 on; BIS numbers add 20 or 40 to the month.
export interface InszInfo {
  kind: 'national_register' | 'bis';
  /** The birth date when fully known (month and day not 0), as YYYY-MM-DD. */
  birthDate?: string;
}

export function parseInsz(input: string): InszInfo | undefined {
  if (!/^\d{11}$/.test(input)) return undefined;
  const base = Number(input.slice(0, 9));
  const check = Number(input.slice(9));
  let century: 1900 | 2000;
  if (97 - (base % 97) === check) century = 1900;
  else if (97 - ((2_000_000_000 + base) % 97) === check) century = 2000;
  else return undefined;

  const yy = Number(input.slice(0, 2));
  let month = Number(input.slice(2, 4));
  const day = Number(input.slice(4, 6));
  let kind: InszInfo['kind'] = 'national_register';
  if (month >= 40) {
    month -= 40;
    kind = 'bis';
  } else if (month >= 20) {
    month -= 20;
    kind = 'bis';
  }
  // Month and day may be 0 when the birth date is not (fully) known.
  if (month > 12 || day > 31) return undefined;
  if (month === 0 || day === 0) return { kind };
  const year = century + yy;
  const date = new Date(Date.UTC(year, month - 1, day));
  if (date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) return undefined;
  return { kind, birthDate: date.toISOString().slice(0, 10) };
}

export const isValidInsz = (input: string): boolean => parseInsz(input) !== undefined;
