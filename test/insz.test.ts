import t from 'tap';
import { parseInsz, isValidInsz } from '../src/lib/insz.js';
import { makeInsz } from './helpers/factories.js';

t.test('valid national register numbers', async (t) => {
  t.same(parseInsz('85073003328'), { kind: 'national_register', birthDate: '1985-07-30' });
  const born2001 = makeInsz('2001-03-15');
  t.same(parseInsz(born2001), { kind: 'national_register', birthDate: '2001-03-15' }, 'born from 2000: "2" prefix');
  t.ok(isValidInsz(makeInsz('1999-12-31')));
  t.ok(isValidInsz(makeInsz('2000-01-01')));
});

t.test('BIS numbers add 20 or 40 to the month; month and day may be 0', async (t) => {
  t.same(parseInsz(makeInsz('1970-05-12', { bis: 20 })), { kind: 'bis', birthDate: '1970-05-12' });
  t.same(parseInsz(makeInsz('2003-11-02', { bis: 40 })), { kind: 'bis', birthDate: '2003-11-02' });
  // Unknown birth date: month and day 00 (+20 for a BIS number of unknown sex).
  const base = '652000001';
  const unknownDate = base + String(97 - (Number(base) % 97)).padStart(2, '0');
  t.same(parseInsz(unknownDate), { kind: 'bis' });
});

t.test('invalid numbers', async (t) => {
  t.notOk(isValidInsz('85073003329'), 'wrong check digits');
  t.notOk(isValidInsz('8507300332'), 'too short');
  t.notOk(isValidInsz('850730033280'), 'too long');
  t.notOk(isValidInsz('85O73003328'), 'a letter');
  t.notOk(isValidInsz('85.07.30-033.28'), 'formatted');
  t.notOk(isValidInsz(''), 'empty');
  const feb30 = '850230001';
  t.notOk(isValidInsz(feb30 + String(97 - (Number(feb30) % 97)).padStart(2, '0')), 'no 30 February');
  const month13 = '851330001';
  t.notOk(isValidInsz(month13 + String(97 - (Number(month13) % 97)).padStart(2, '0')), 'no month 13');
  // The 2000s check digit only holds with the prefix: the same digits with a 1900s check fail.
  const born2001 = makeInsz('2001-03-15');
  const wrongCentury = born2001.slice(0, 9) + String(97 - (Number(born2001.slice(0, 9)) % 97)).padStart(2, '0');
  t.equal(parseInsz(wrongCentury)?.birthDate, '1901-03-15', 'the same digits with a 1900s check mean 1901');
});
