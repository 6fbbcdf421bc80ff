// Fills a fresh PostgreSQL database with a region's care plans through set-based SQL: npm run bench:generate -- --size 100k [--reset].
import { parseArgs } from 'node:util';
import pg from 'pg';
import { createDatabase } from '../src/db/database.js';
import { migrateToLatest } from '../src/db/migrate.js';
import { verifyAuditChain } from '../src/modules/journal/journal.repository.js';

export interface GenerateOptions {
  /** Server URL with a user allowed to CREATE DATABASE (its own database is never written). */
  adminUrl: string;
  persons: number;
  database: string;
  reset: boolean;
  /** Persons per statement; two connections work on alternate batches. */
  batch: number;
  log?: (line: string) => void;
}

export interface GenerateReport {
  database: string;
  url: string;
  persons: number;
  seconds: { create: number; load: number; vacuumAnalyze: number; total: number };
  rows: Record<string, number>;
  verifiedChains: number;
}

/** "10k" → 10000, "1m" → 1000000, "2500" → 2500. */
export function parseSize(size: string): number {
  const match = /^(\d+(?:\.\d+)?)([km]?)$/i.exec(size.trim());
  if (!match) throw new Error(`--size must look like 10k, 100k, 1m or a number, not "${size}"`);
  const factor = match[2]!.toLowerCase() === 'm' ? 1_000_000 : match[2]!.toLowerCase() === 'k' ? 1000 : 1;
  const persons = Math.round(Number(match[1]) * factor);
  if (persons < 1) throw new Error('--size must be at least 1');
  return persons;
}

export const sizeLabel = (persons: number): string =>
  persons % 1_000_000 === 0 ? `${persons / 1_000_000}m` : persons % 1000 === 0 ? `${persons / 1000}k` : String(persons);

export const databaseUrl = (serverUrl: string, database: string): string => {
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  return url.toString();
};

/** True when the database exists and already holds persons (then it is a finished dataset). */
export async function datasetPersons(adminUrl: string, database: string): Promise<number | undefined> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    const exists = await admin.query('select 1 from pg_database where datname = $1', [database]);
    if (exists.rowCount === 0) return undefined;
  } finally {
    await admin.end();
  }
  const client = new pg.Client({ connectionString: databaseUrl(adminUrl, database) });
  await client.connect();
  try {
    const table = await client.query(`select to_regclass('public.persons') is not null as present`);
    if (!table.rows[0].present) return 0;
    const { rows } = await client.query('select count(*)::int as n from persons');
    return rows[0].n as number;
  } finally {
    await client.end();
  }
}

// Session helpers (pg_temp: nothing is left in the schema). Every id is derived from the person's
// index and the item's index, so each statement can refer to rows another statement inserted
// without reading them back. Ids are UUIDv7-shaped: person ids grow with the index (every
// person-led index is filled at its right edge), child ids carry their creation time (notes are
// listed by note_id, newest first, as the service's time-ordered ids are). The helpers are STABLE
// single expressions using a costly argument at most once, so the planner inlines them: one that
// is not inlined costs a function call per row and made loading ten times slower.
const HELPERS = String.raw`
create function pg_temp.uid(ms bigint, seed text) returns uuid language sql stable as
  $$ select (lpad(to_hex(ms), 12, '0') || overlay('7' || left(md5(seed), 18) placing '8' from 5 for 0))::uuid $$;
create function pg_temp.ms(t timestamptz) returns bigint language sql stable as
  $$ select (extract(epoch from t) * 1000)::bigint $$;
create function pg_temp.t0(p bigint) returns timestamptz language sql stable as
  $$ select timestamptz '2023-06-01 00:00:00+00' + ((p * 7919) % 700) * interval '1 day' + (p % 43200) * interval '1 second' $$;
create function pg_temp.pid(p bigint) returns uuid language sql stable as
  $$ select pg_temp.uid(1685577600000 + p, 'p' || p) $$;
create function pg_temp.members(p bigint) returns int language sql stable as $$ select (4 + (p * 7) % 9)::int $$;
create function pg_temp.claimed(p bigint) returns boolean language sql stable as $$ select p % 5 <> 4 $$;
create function pg_temp.owner(p bigint) returns text language sql stable as
  $$ select case when p % 5 <> 4 then 'bench-p-' || p else 'bench-m-' || p || '-0' end $$;
create function pg_temp.msub(p bigint, j int) returns text language sql stable as $$ select 'bench-m-' || p || '-' || j $$;
create function pg_temp.mts(p bigint, j int) returns timestamptz language sql stable as
  $$ select pg_temp.t0(p) + (j + 1) * interval '1 minute' $$;
create function pg_temp.mid(p bigint, j int) returns uuid language sql stable as
  $$ select pg_temp.uid(pg_temp.ms(pg_temp.mts(p, j)), 'm' || p || '.' || j) $$;
create function pg_temp.mkind(j int) returns text language sql stable as
  $$ select case when j in (0, 3) then 'professional' when j = 1 then 'informal_carer' when j = 2 then 'organisation'
    else (array['professional', 'informal_carer', 'volunteer', 'professional'])[j % 4 + 1] end $$;
create function pg_temp.mname(p bigint, j int) returns text language sql stable as
  $$ select case pg_temp.mkind(j) when 'organisation' then (array['Thuiszorg Vleugels', 'Wit-Gele Kruis', 'i-mens', 'Solidariteit voor het Gezin'])[p % 4 + 1]
    else (array['Dr. Els', 'Jan', 'Sofie', 'Pieter', 'Lotte', 'Karim', 'Marie', 'Tom', 'Fatima', 'Wim', 'Ines', 'Bart'])[(p + j) % 12 + 1]
      || ' ' || (array['Janssens', 'Peeters', 'Maes', 'Jacobs', 'Mertens', 'Willems', 'Claes', 'Goossens', 'Wouters', 'De Smet'])[(p * 3 + j) % 10 + 1] end $$;
-- What each kind of member may do: a coordinator everything; professionals write care; family
-- reads and writes notes; volunteers see their tasks; a home-care service works on tasks.
create function pg_temp.mscopes(j int) returns text[] language sql stable as
  $$ select case when j = 0 then array['profile:write', 'team:write', 'goals:write', 'tasks:write', 'notes:write', 'wishes:write', 'safety_plan:write', 'meetings:write']
    else case pg_temp.mkind(j)
      when 'professional' then array['profile:read', 'team:read', 'goals:write', 'tasks:write', 'notes:write', 'wishes:read', 'safety_plan:read', 'meetings:write']
      when 'informal_carer' then array['profile:read', 'team:read', 'goals:read', 'tasks:read', 'notes:write', 'meetings:read']
      when 'volunteer' then array['team:read', 'tasks:read', 'notes:read']
      else array['team:read', 'goals:read', 'tasks:write', 'notes:write', 'meetings:read'] end end $$;
create function pg_temp.lgts(p bigint, k int) returns timestamptz language sql stable as $$ select pg_temp.t0(p) + interval '1 day' + k * interval '1 hour' $$;
create function pg_temp.lgid(p bigint, k int) returns uuid language sql stable as $$ select pg_temp.uid(pg_temp.ms(pg_temp.lgts(p, k)), 'l' || p || '.' || k) $$;
create function pg_temp.cgts(p bigint, k int) returns timestamptz language sql stable as $$ select pg_temp.t0(p) + interval '2 days' + k * interval '1 hour' $$;
create function pg_temp.cgid(p bigint, k int) returns uuid language sql stable as $$ select pg_temp.uid(pg_temp.ms(pg_temp.cgts(p, k)), 'c' || p || '.' || k) $$;
create function pg_temp.tts(p bigint, k int) returns timestamptz language sql stable as $$ select pg_temp.t0(p) + interval '3 days' + k * interval '1 hour' $$;
create function pg_temp.tid(p bigint, k int) returns uuid language sql stable as $$ select pg_temp.uid(pg_temp.ms(pg_temp.tts(p, k)), 't' || p || '.' || k) $$;
create function pg_temp.tassignee(p bigint, k int) returns int language sql stable as $$ select (k % pg_temp.members(p))::int $$;
create function pg_temp.tstatus(k int) returns text language sql stable as
  $$ select (array['open', 'in_progress', 'done', 'open', 'cancelled', 'open', 'in_progress', 'done', 'open', 'done'])[k % 10 + 1] $$;
create function pg_temp.nts(p bigint, n int) returns timestamptz language sql stable as $$ select pg_temp.t0(p) + interval '5 days' + n * interval '10 hours' $$;
create function pg_temp.nid(p bigint, n int) returns uuid language sql stable as $$ select pg_temp.uid(pg_temp.ms(pg_temp.nts(p, n)), 'n' || p || '.' || n) $$;
create function pg_temp.nversions(p bigint, n int) returns int language sql stable as $$ select (1 + (p * 31 + n * 7) % 3)::int $$;
-- Volunteers only read notes: their turn to write goes to the coordinator.
create function pg_temp.nauthor(p bigint, n int) returns int language sql stable as
  $$ select case when pg_temp.mkind(n % pg_temp.members(p)) = 'volunteer' then 0 else n % pg_temp.members(p) end $$;
create function pg_temp.nphase(n int) returns text language sql stable as
  $$ select case when n % 10 = 0 then 'acute' when n % 3 = 0 then 'info' else 'follow_up' end $$;
create function pg_temp.nvisibility(n int) returns text language sql stable as
  $$ select case when n % 7 = 3 then 'professionals' when n % 11 = 5 then 'members' else 'team' end $$;
create function pg_temp.nbody(p bigint, n int, v int) returns text language sql stable as
  $$ select (array['Bezoek verlopen zoals gepland. Mevrouw was goedgezind en heeft zelf de koffie gezet.',
      'Wondzorg uitgevoerd, wonde heelt goed. Volgende verzorging over twee dagen.',
      'Visite faite, tension stable. Elle souhaite continuer la promenade du matin avec sa voisine.',
      'Medication reviewed with the GP; evening dose moved to 19:00 so she sleeps better.',
      'Dochter belde: volgende week op reis, buurman neemt de boodschappen over.',
      'Kinesitherapie: evenwichtsoefeningen gaan beter, wandelt nu tot aan de bakker met rollator.'])[(p + n + v) % 6 + 1]
    || case when v > 1 then ' (aangevuld: ' || v || ')' else '' end $$;
create function pg_temp.json_text(value text) returns text language sql stable as $$ select coalesce(to_json(value)::text, 'null') $$;
create function pg_temp.iso(t timestamptz) returns text language sql stable as
  $$ select to_char(t at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') $$;
-- The audit chain: a running aggregate over a person's entries in seq order yields each
-- entry's hash, exactly as auditEntryHash computes it: sha256(prev_hash || '\n' || canonical JSON).
create function pg_temp.chain_step(state text, canonical text) returns text language sql immutable strict as
  $$ select encode(sha256(convert_to(state || E'\n' || canonical, 'UTF8')), 'hex') $$;
create aggregate pg_temp.chain(text) (sfunc = pg_temp.chain_step, stype = text, initcond = '');
create temp table batch_happenings (p bigint, at timestamptz, k int, actor_sub text, actor_member_id uuid, action text,
  resource_type text, resource_id uuid, event_type text, data jsonb) on commit delete rows;
`;

// Every statement takes the batch's first and last person index as $1 and $2.
const PERSONS = `
insert into persons (person_id, identifier_system, identifier_value, given_name, family_name, birth_date, gender, language,
  interpreter_needed, allow_emergency_access, owner_sub, steward_sub, steward_name, claimed_at, created_by_sub, version, created_at, updated_at)
select pg_temp.pid(p), 'insz', x.insz,
  (array['Maria', 'Jozef', 'Anna', 'Frans', 'Julia', 'Louis', 'Rosa', 'Marcel', 'Yvonne', 'André', 'Fatma', 'Mohamed'])[p % 12 + 1],
  (array['Peeters', 'Janssens', 'Maes', 'Jacobs', 'Mertens', 'Willems', 'Claes', 'Dubois', 'Lambert', 'El Amrani'])[(p / 12) % 10 + 1],
  x.birth, null, (array['nl', 'nl', 'nl', 'fr', 'fr', 'de', 'en'])[p % 7 + 1], p % 23 = 0, p % 50 <> 0,
  case when pg_temp.claimed(p) then pg_temp.owner(p) end,
  case when not pg_temp.claimed(p) then pg_temp.owner(p) end,
  case when not pg_temp.claimed(p) then pg_temp.mname(p, 0) end,
  case when pg_temp.claimed(p) then pg_temp.t0(p) end,
  pg_temp.owner(p), 1, pg_temp.t0(p), pg_temp.t0(p)
from generate_series($1::bigint, $2::bigint) p
cross join lateral (
  -- A valid INSZ (born before 2000): yymmdd, a 3-digit counter, and 97 minus the first nine digits modulo 97.
  select birth, nine || lpad((97 - nine::bigint % 97)::text, 2, '0') as insz
  from (select date '1925-01-01' + (p % 25000)::int as birth) b
  cross join lateral (select to_char(b.birth, 'YYMMDD') || lpad((p / 25000 + 1)::text, 3, '0') as nine) n
) x`;

const IDENTIFIERS = `
insert into person_identifiers (identifier_system, identifier_value, person_id)
select identifier_system, identifier_value, person_id from persons
where person_id between pg_temp.pid($1::bigint) and pg_temp.pid($2::bigint)`;

const MEMBERS = `
insert into care_team_members (person_id, member_id, kind, display_name, nihii, organisation_id, discipline_code, discipline_display,
  function, status, user_sub, scopes, invited_by_sub, invited_at, joined_at, version, updated_at)
select pg_temp.pid(p), pg_temp.mid(p, j), pg_temp.mkind(j), pg_temp.mname(p, j),
  case when pg_temp.mkind(j) = 'professional' then lpad((p * 100 + j)::text, 11, '0') end,
  case when pg_temp.mkind(j) = 'organisation' then 'bench-org-' || (p % 500) end,
  case when j = 0 then 'gp' when pg_temp.mkind(j) = 'professional' then (array['nurse', 'physio', 'pharmacist'])[j % 3 + 1] end,
  case when j = 0 then 'General practitioner' when pg_temp.mkind(j) = 'professional' then (array['Home nurse', 'Physiotherapist', 'Pharmacist'])[j % 3 + 1] end,
  case when j = 0 then 'coordinator' when j = 3 then 'case_manager' else 'member' end,
  'active', pg_temp.msub(p, j), pg_temp.mscopes(j), pg_temp.owner(p), pg_temp.mts(p, j), pg_temp.mts(p, j), 1, pg_temp.mts(p, j)
from generate_series($1::bigint, $2::bigint) p
cross join lateral generate_series(0, pg_temp.members(p) - 1) j`;

// One 'granted' record per member; every fourth member started with team:read only and was
// widened later ('changed'), so the grant history is not a single row everywhere.
const GRANTS = `
insert into grants (person_id, grant_id, member_id, change, scopes, previous_scopes, valid_until, changed_by_sub, changed_by_name, changed_at)
select pg_temp.pid(p), pg_temp.uid(pg_temp.ms(pg_temp.mts(p, j)), 'g' || p || '.' || j || '.' || g.n), pg_temp.mid(p, j),
  g.change, g.scopes, g.previous, null, pg_temp.owner(p), null, pg_temp.mts(p, j) + g.n * interval '20 days'
from generate_series($1::bigint, $2::bigint) p
cross join lateral generate_series(0, pg_temp.members(p) - 1) j
cross join lateral (
  select 0 as n, 'granted' as change, case when j % 4 = 3 then array['team:read'] else pg_temp.mscopes(j) end as scopes, null::text[] as previous
  union all
  select 1, 'changed', pg_temp.mscopes(j), array['team:read'] where j % 4 = 3
) g`;

const LIFE_GOALS = `
insert into life_goals (person_id, life_goal_id, version, title, description, status, expressed_by_kind, expressed_by_name,
  created_by_sub, created_at, updated_at)
select pg_temp.pid(p), pg_temp.lgid(p, k), 1,
  (array['Zo lang mogelijk thuis blijven wonen', 'Elke week naar de markt met mijn dochter', 'Mijn kleinkinderen zien opgroeien',
    'Weer zelf kunnen koken', 'Rester autonome chez moi', 'Pijnvrij kunnen slapen'])[(p + k) % 6 + 1],
  case when k = 0 then 'In mijn eigen woorden: mijn huis is mijn thuis.' end,
  case when k = 2 and p % 3 = 0 then 'achieved' else 'active' end, 'person', null, pg_temp.owner(p), pg_temp.lgts(p, k), pg_temp.lgts(p, k)
from generate_series($1::bigint, $2::bigint) p cross join generate_series(0, 2) k`;

const CARE_GOALS = `
insert into care_goals (person_id, care_goal_id, version, title, description, status, owner_member_id, review_date, created_by_sub, created_at, updated_at)
select pg_temp.pid(p), pg_temp.cgid(p, k), 1,
  (array['Valpreventie thuis', 'Wondzorg tot genezing', 'Medicatie veilig beheren', 'Mantelzorger ontlasten', 'Mobiliteit verbeteren',
    'Voeding op peil houden'])[k + 1],
  null, case when k = 5 then 'proposed' when k = 4 and p % 4 = 0 then 'achieved' else 'active' end,
  pg_temp.mid(p, k % pg_temp.members(p)), (pg_temp.cgts(p, k) + interval '90 days')::date, pg_temp.owner(p), pg_temp.cgts(p, k), pg_temp.cgts(p, k)
from generate_series($1::bigint, $2::bigint) p cross join generate_series(0, 5) k`;

// Each care goal serves life goal k % 3; even ones serve the next life goal too.
const CARE_GOAL_LINKS = `
insert into care_goal_life_goals (person_id, care_goal_id, life_goal_id)
select pg_temp.pid(p), pg_temp.cgid(p, k), pg_temp.lgid(p, l)
from generate_series($1::bigint, $2::bigint) p cross join generate_series(0, 5) k
cross join lateral (select k % 3 as l union all select (k + 1) % 3 where k % 2 = 0) links`;

const TASKS = `
insert into tasks (person_id, task_id, version, title, description, care_goal_id, assignee_member_id, due_date, due_at, status,
  completed_by_sub, completed_by_member_id, completed_at, created_by_sub, created_by_member_id, created_at, updated_at)
select pg_temp.pid(p), pg_temp.tid(p, k), 1,
  (array['Wondverzorging', 'Medicatie klaarzetten', 'Boodschappen doen', 'Huisbezoek', 'Valmelder testen', 'Bloeddruk meten',
    'Kiné-oefeningen', 'Maaltijd leveren', 'Apotheek bellen', 'Wandeling'])[k % 10 + 1],
  null, case when k % 5 = 4 then null else pg_temp.cgid(p, k % 6) end, pg_temp.mid(p, pg_temp.tassignee(p, k)),
  (pg_temp.tts(p, k) + (7 + k) * interval '1 day')::date, null, pg_temp.tstatus(k),
  case when pg_temp.tstatus(k) = 'done' then pg_temp.msub(p, pg_temp.tassignee(p, k)) end,
  case when pg_temp.tstatus(k) = 'done' then pg_temp.mid(p, pg_temp.tassignee(p, k)) end,
  case when pg_temp.tstatus(k) = 'done' then pg_temp.tts(p, k) + interval '2 days' end,
  pg_temp.msub(p, 0), pg_temp.mid(p, 0), pg_temp.tts(p, k),
  case when pg_temp.tstatus(k) = 'done' then pg_temp.tts(p, k) + interval '2 days' else pg_temp.tts(p, k) end
from generate_series($1::bigint, $2::bigint) p cross join generate_series(0, 19) k`;

const NOTES = `
insert into notes (person_id, note_id, version, phase, visibility, visible_to, about_type, about_id, author_sub, author_name,
  author_role, author_member_id, retracted_at, created_at, updated_at)
select pg_temp.pid(p), pg_temp.nid(p, n), pg_temp.nversions(p, n), pg_temp.nphase(n), pg_temp.nvisibility(n),
  case when pg_temp.nvisibility(n) = 'members' then array[pg_temp.mid(p, 0), pg_temp.mid(p, 1)] else '{}'::uuid[] end,
  case when n % 4 = 1 then 'task' end, case when n % 4 = 1 then pg_temp.tid(p, n % 20) end,
  pg_temp.msub(p, pg_temp.nauthor(p, n)), pg_temp.mname(p, pg_temp.nauthor(p, n)), 'member', pg_temp.mid(p, pg_temp.nauthor(p, n)),
  null, pg_temp.nts(p, n), pg_temp.nts(p, n) + (pg_temp.nversions(p, n) - 1) * interval '1 hour'
from generate_series($1::bigint, $2::bigint) p cross join generate_series(0, 39) n`;

const NOTE_VERSIONS = `
insert into note_versions (person_id, note_id, version, body, phase, retracted, created_at)
select pg_temp.pid(p), pg_temp.nid(p, n), v, pg_temp.nbody(p, n, v), pg_temp.nphase(n), false, pg_temp.nts(p, n) + (v - 1) * interval '1 hour'
from generate_series($1::bigint, $2::bigint) p cross join generate_series(0, 39) n
cross join lateral generate_series(1, pg_temp.nversions(p, n)) v`;

// The first version of every goal and task as the API shows it (the history endpoints return it).
const RESOURCE_VERSIONS = `
insert into resource_versions (person_id, resource_type, resource_id, version, snapshot, changed_fields, changed_by_sub,
  changed_by_name, changed_by_role, changed_by_member_id, changed_at)
select g.person_id, 'life_goal', g.life_goal_id, 1,
  jsonb_build_object('id', g.life_goal_id, 'lifeGoalId', g.life_goal_id, 'personId', g.person_id, 'title', g.title, 'description', g.description,
    'status', g.status, 'expressedBy', jsonb_build_object('kind', 'person', 'name', null, 'memberId', null, 'representativeId', null),
    'version', 1, 'createdAt', pg_temp.iso(g.created_at), 'updatedAt', pg_temp.iso(g.updated_at)),
  array['title', 'description', 'status'], g.created_by_sub, null::text, case when pr.claimed_at is null then 'steward' else 'person' end,
  null::uuid, g.created_at
from life_goals g join persons pr on pr.person_id = g.person_id
where g.person_id between pg_temp.pid($1::bigint) and pg_temp.pid($2::bigint)
union all
select c.person_id, 'care_goal', c.care_goal_id, 1,
  jsonb_build_object('id', c.care_goal_id, 'careGoalId', c.care_goal_id, 'personId', c.person_id, 'title', c.title, 'description', c.description,
    'status', c.status, 'lifeGoalIds', (select jsonb_agg(l.life_goal_id order by l.life_goal_id) from care_goal_life_goals l
      where l.person_id = c.person_id and l.care_goal_id = c.care_goal_id),
    'ownerMemberId', c.owner_member_id, 'reviewDate', c.review_date, 'version', 1,
    'createdAt', pg_temp.iso(c.created_at), 'updatedAt', pg_temp.iso(c.updated_at)),
  array['title', 'description', 'status', 'lifeGoalIds', 'ownerMemberId', 'reviewDate'], c.created_by_sub, null,
  case when pr.claimed_at is null then 'steward' else 'person' end, null, c.created_at
from care_goals c join persons pr on pr.person_id = c.person_id
where c.person_id between pg_temp.pid($1::bigint) and pg_temp.pid($2::bigint)
union all
select t.person_id, 'task', t.task_id, 1,
  jsonb_build_object('id', t.task_id, 'taskId', t.task_id, 'personId', t.person_id, 'title', t.title, 'description', t.description,
    'careGoalId', t.care_goal_id, 'assigneeMemberId', t.assignee_member_id, 'due', to_char(t.due_date, 'YYYY-MM-DD'), 'status', t.status,
    'completedAt', case when t.completed_at is not null then pg_temp.iso(t.completed_at) end,
    'completedBy', case when t.completed_at is not null then jsonb_build_object('name', a.display_name, 'memberId', t.completed_by_member_id) end,
    'createdBy', jsonb_build_object('name', m.display_name, 'memberId', t.created_by_member_id), 'version', 1,
    'createdAt', pg_temp.iso(t.created_at), 'updatedAt', pg_temp.iso(t.updated_at)),
  array['title', 'description', 'careGoalId', 'assigneeMemberId', 'due', 'status'], t.created_by_sub, m.display_name, 'member',
  t.created_by_member_id, t.created_at
from tasks t
join care_team_members m on m.person_id = t.person_id and m.member_id = t.created_by_member_id
join care_team_members a on a.person_id = t.person_id and a.member_id = t.assignee_member_id
where t.person_id between pg_temp.pid($1::bigint) and pg_temp.pid($2::bigint)`;

// What happened to each plan, in time order: one entry per creation, revision, invitation.
// Both the audit chain and the outbox are numbered from this list.
const HAPPENINGS = `
  select p, pg_temp.t0(p) as at, 0 as k, pg_temp.owner(p) as actor_sub, null::uuid as actor_member_id,
    'create' as action, 'person' as resource_type, pg_temp.pid(p) as resource_id, null::text as event_type, null::jsonb as data
  from generate_series($1::bigint, $2::bigint) p
  union all
  select p, pg_temp.mts(p, j), j, pg_temp.owner(p), null, 'create', 'team_member', pg_temp.mid(p, j), 'team.member_joined',
    jsonb_build_object('resourceType', 'team_member', 'resourceId', pg_temp.mid(p, j), 'memberId', pg_temp.mid(p, j))
  from generate_series($1::bigint, $2::bigint) p cross join lateral generate_series(0, pg_temp.members(p) - 1) j
  union all
  select p, pg_temp.lgts(p, k), k, pg_temp.owner(p), null, 'create', 'life_goal', pg_temp.lgid(p, k), 'life_goal.created',
    jsonb_build_object('resourceType', 'life_goal', 'resourceId', pg_temp.lgid(p, k), 'version', 1)
  from generate_series($1::bigint, $2::bigint) p cross join generate_series(0, 2) k
  union all
  select p, pg_temp.cgts(p, k), k, pg_temp.owner(p), null, 'create', 'care_goal', pg_temp.cgid(p, k), 'care_goal.created',
    jsonb_build_object('resourceType', 'care_goal', 'resourceId', pg_temp.cgid(p, k), 'version', 1)
  from generate_series($1::bigint, $2::bigint) p cross join generate_series(0, 5) k
  union all
  select p, pg_temp.tts(p, k), k, pg_temp.msub(p, 0), pg_temp.mid(p, 0), 'create', 'task', pg_temp.tid(p, k), 'task.created',
    jsonb_build_object('resourceType', 'task', 'resourceId', pg_temp.tid(p, k), 'version', 1, 'assigneeMemberId', pg_temp.mid(p, pg_temp.tassignee(p, k)))
  from generate_series($1::bigint, $2::bigint) p cross join generate_series(0, 19) k
  union all
  select p, pg_temp.nts(p, n) + (v - 1) * interval '1 hour', n * 10 + v, pg_temp.msub(p, pg_temp.nauthor(p, n)), pg_temp.mid(p, pg_temp.nauthor(p, n)),
    case when v = 1 then 'create' else 'update' end, 'note', pg_temp.nid(p, n), case when v = 1 then 'note.created' else 'note.revised' end,
    jsonb_build_object('resourceType', 'note', 'resourceId', pg_temp.nid(p, n), 'version', v, 'phase', pg_temp.nphase(n),
      'visibility', pg_temp.nvisibility(n), 'visibleTo', case when pg_temp.nvisibility(n) = 'members'
        then jsonb_build_array(pg_temp.mid(p, 0), pg_temp.mid(p, 1)) else '[]'::jsonb end,
      'authorMemberId', pg_temp.mid(p, pg_temp.nauthor(p, n)))
  from generate_series($1::bigint, $2::bigint) p cross join generate_series(0, 39) n
  cross join lateral generate_series(1, pg_temp.nversions(p, n)) v`;

// Actor name and role follow from the actor: the person (or, before they claimed the plan, the
// coordinator as steward, on their behalf) or a member. The canonical text is auditEntryHash's
// JSON.stringify array, written out in SQL (ids and names here need no escaping beyond to_json).
const AUDIT = `
insert into audit_entries (person_id, seq, occurred_at, actor_sub, actor_name, actor_role, actor_member_id, on_behalf, action,
  resource_type, resource_id, reason, request_id, prev_hash, hash)
select person_id, seq, at, actor_sub, actor_name, actor_role, actor_member_id, on_behalf, action, resource_type, resource_id, null, null,
  coalesce(lag(hash) over w, ''), hash
from (
  select c.*, pg_temp.chain('[' || pg_temp.json_text(c.person_id::text) || ',' || c.seq || ',' || pg_temp.json_text(pg_temp.iso(c.at)) || ','
      || pg_temp.json_text(c.actor_sub) || ',' || pg_temp.json_text(c.actor_name) || ',' || pg_temp.json_text(c.actor_role) || ','
      || pg_temp.json_text(c.actor_member_id::text) || ',' || case when c.on_behalf then 'true' else 'false' end || ','
      || pg_temp.json_text(c.action) || ',' || pg_temp.json_text(c.resource_type) || ',' || pg_temp.json_text(c.resource_id::text)
      || ',null,null]') over (partition by c.person_id order by c.seq) as hash
  from (
    select pg_temp.pid(h.p) as person_id, row_number() over (partition by h.p order by h.at, h.resource_type, h.k) as seq, h.at,
      h.actor_sub,
      case when h.actor_member_id is not null then pg_temp.mname(h.p, nullif(split_part(h.actor_sub, '-', 4), '')::int)
        when pg_temp.claimed(h.p) then null else pg_temp.mname(h.p, 0) end as actor_name,
      case when h.actor_member_id is not null then 'member' when pg_temp.claimed(h.p) then 'person' else 'steward' end as actor_role,
      h.actor_member_id, h.actor_member_id is null and not pg_temp.claimed(h.p) as on_behalf, h.action, h.resource_type, h.resource_id
    from batch_happenings h
  ) c
) chained
window w as (partition by person_id order by seq)`;

const OUTBOX = `
insert into outbox_events (person_id, seq, event_id, type, occurred_at, data, dispatched_at, writer_xid)
select pg_temp.pid(h.p), row_number() over (partition by h.p order by h.at, h.resource_type, h.k),
  pg_temp.uid(pg_temp.ms(h.at), 'e' || h.resource_id || '.' || h.k), h.event_type, h.at, h.data, h.at,
  -- history: before any live stream (the stream sequencer numbers what is written from now on)
  null
from batch_happenings h
where h.event_type is not null`;

// The heads must match the chains and the outbox, or the next write would break the chain.
const SEQUENCES = `
insert into person_sequences (person_id, audit_seq, audit_hash, event_seq)
select a.person_id, a.seq, a.hash, coalesce((select max(o.seq) from outbox_events o where o.person_id = a.person_id), 0)
from (
  select distinct on (person_id) person_id, seq, hash from audit_entries
  where person_id between pg_temp.pid($1::bigint) and pg_temp.pid($2::bigint)
  order by person_id, seq desc
) a`;

const STEPS: Array<[string, string]> = [
  ['persons', PERSONS],
  ['person_identifiers', IDENTIFIERS],
  ['care_team_members', MEMBERS],
  ['grants', GRANTS],
  ['life_goals', LIFE_GOALS],
  ['care_goals', CARE_GOALS],
  ['care_goal_life_goals', CARE_GOAL_LINKS],
  ['tasks', TASKS],
  ['notes', NOTES],
  ['note_versions', NOTE_VERSIONS],
  ['resource_versions', RESOURCE_VERSIONS],
  // Computed once per batch: the audit chain and the outbox are both numbered from it.
  ['happenings', `insert into batch_happenings ${HAPPENINGS}`],
  ['audit_entries', AUDIT],
  ['outbox_events', OUTBOX],
  ['person_sequences', SEQUENCES],
];

const COUNTED_TABLES = STEPS.map(([table]) => table).filter((table) => table !== 'happenings');

export async function generate(options: GenerateOptions): Promise<GenerateReport> {
  const log = options.log ?? ((line: string) => console.log(line));
  const started = performance.now();
  const url = databaseUrl(options.adminUrl, options.database);

  const existing = await datasetPersons(options.adminUrl, options.database);
  if (existing !== undefined && existing > 0 && !options.reset) {
    throw new Error(
      `database ${options.database} already holds ${existing} persons: pass --reset to drop and rebuild it, or choose another --database`,
    );
  }
  const admin = new pg.Client({ connectionString: options.adminUrl });
  await admin.connect();
  try {
    // A fresh database every time: migrations applied to an empty schema, no leftovers.
    await admin.query(`drop database if exists ${pg.escapeIdentifier(options.database)} with (force)`);
    await admin.query(`create database ${pg.escapeIdentifier(options.database)}`);
  } finally {
    await admin.end();
  }
  const handle = await createDatabase({ kind: 'postgres', url, poolSize: 1 });
  try {
    await migrateToLatest(handle.db);
  } finally {
    await handle.close();
  }
  const created = performance.now();
  log(`created and migrated ${options.database} in ${((created - started) / 1000).toFixed(1)} s; loading ${options.persons} persons`);

  // Two connections: PostgreSQL does the work, so two backends keep both cores busy.
  const workers = await Promise.all(
    [0, 1].map(async () => {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      // A bench dataset can be rebuilt: losing the last commits in a crash costs nothing.
      await client.query(`set synchronous_commit = off; set work_mem = '256MB'; set jit = off`);
      await client.query(HELPERS);
      return client;
    }),
  );
  const batches: Array<[number, number]> = [];
  for (let lo = 0; lo < options.persons; lo += options.batch) batches.push([lo, Math.min(lo + options.batch, options.persons) - 1]);
  let next = 0;
  let done = 0;
  const stepSeconds = new Map<string, number>();
  try {
    await Promise.all(
      workers.map(async (client) => {
        for (;;) {
          const batch = batches[next++];
          if (!batch) return;
          await client.query('begin');
          for (const [table, statement] of STEPS) {
            const t = performance.now();
            await client.query(statement, statement.includes('$1') ? [...batch] : []);
            stepSeconds.set(table, (stepSeconds.get(table) ?? 0) + (performance.now() - t) / 1000);
          }
          await client.query('commit');
          done += batch[1] - batch[0] + 1;
          if (batches.length > 1) {
            const elapsed = (performance.now() - created) / 1000;
            log(`  ${done}/${options.persons} persons, ${elapsed.toFixed(0)} s, ~${Math.round(done / elapsed)} persons/s`);
          }
        }
      }),
    );
  } finally {
    await Promise.all(workers.map((c) => c.end()));
  }
  const loaded = performance.now();
  log(
    `loaded in ${((loaded - created) / 1000).toFixed(1)} s (statement time per table, both connections: ${[...stepSeconds]
      .map(([t, s]) => `${t} ${s.toFixed(1)}`)
      .join(', ')})`,
  );

  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const rows: Record<string, number> = {};
  try {
    // Statistics and the visibility map as a long-running database would have them.
    await client.query('vacuum (analyze)');
    for (const table of COUNTED_TABLES) {
      const { rows: r } = await client.query(`select count(*)::bigint as n from ${pg.escapeIdentifier(table)}`);
      rows[table] = Number(r[0].n);
    }
  } finally {
    await client.end();
  }
  const vacuumed = performance.now();

  // Proof that the service accepts the generated chains: its own verifier on a few persons.
  const check = await createDatabase({ kind: 'postgres', url, poolSize: 1 });
  let verifiedChains = 0;
  try {
    const sample = new pg.Client({ connectionString: url });
    await sample.connect();
    const { rows: persons } = await sample.query<{ person_id: string }>(
      '(select person_id from persons order by person_id limit 1) union all (select person_id from persons order by person_id desc limit 2)',
    );
    await sample.end();
    for (const { person_id } of persons) {
      const result = await verifyAuditChain(check.db, person_id);
      if (!result.valid) throw new Error(`generated audit chain of ${person_id} does not verify (first invalid seq ${result.firstInvalidSeq})`);
      verifiedChains += 1;
    }
  } finally {
    await check.close();
  }
  const finished = performance.now();
  return {
    database: options.database,
    url,
    persons: options.persons,
    seconds: {
      create: round1((created - started) / 1000),
      load: round1((loaded - created) / 1000),
      vacuumAnalyze: round1((vacuumed - loaded) / 1000),
      total: round1((finished - started) / 1000),
    },
    rows,
    verifiedChains,
  };
}

const round1 = (value: number) => Math.round(value * 10) / 10;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      size: { type: 'string', default: '100k' },
      database: { type: 'string' },
      reset: { type: 'boolean', default: false },
      batch: { type: 'string' },
    },
  });
  const adminUrl = process.env.DATABASE_URL;
  if (!adminUrl) throw new Error('DATABASE_URL is required, e.g. DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres');
  const persons = parseSize(values.size!);
  const report = await generate({
    adminUrl,
    persons,
    database: values.database ?? `kring_bench_${sizeLabel(persons)}`,
    reset: values.reset!,
    batch: values.batch ? Number(values.batch) : Math.min(2000, Math.max(250, Math.ceil(persons / 8))),
  });
  console.log(JSON.stringify(report, null, 2));
  const total = Object.values(report.rows).reduce((a, b) => a + b, 0);
  console.log(`${report.persons} persons, ${total} rows in ${report.seconds.total} s (load ${report.seconds.load} s, vacuum/analyze ${report.seconds.vacuumAnalyze} s)`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
