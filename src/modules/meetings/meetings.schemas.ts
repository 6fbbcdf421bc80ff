// Shapes of meetings: (video) consultations of the person's care team.
import { z } from 'zod';
import { PageQuery, Timestamp, Uuid } from '../../http/schemas.js';

export const MeetingStatus = z.enum(['scheduled', 'cancelled']).meta({ id: 'MeetingStatus' });

const title = z.string().trim().min(1).max(500);
const videoUrl = z
  .url({ protocol: /^https$/, hostname: z.regexes.domain, error: 'an https URL' })
  .max(2_000)
  .meta({ description: 'Where to join the video call; https only.' });
const location = z.string().trim().min(1).max(500);
const agenda = z.string().trim().min(1).max(10_000);

/** Team members taking part; each listed once. */
const participantMemberIds = z
  .array(Uuid)
  .min(1)
  .max(50)
  .superRefine((ids, ctx) => {
    ids.forEach((id, i) => {
      if (ids.indexOf(id) !== i) ctx.addIssue({ code: 'custom', path: [i], message: 'listed more than once' });
    });
  });

export const MeetingCreate = z
  .object({
    title,
    startsAt: Timestamp,
    endsAt: Timestamp.meta({ description: 'After startsAt.' }),
    videoUrl: videoUrl.optional(),
    location: location.optional(),
    participantMemberIds: participantMemberIds.meta({
      description: 'Active team members of this person who may read meetings.',
    }),
    agenda: agenda.optional(),
  })
  .strict()
  .meta({ id: 'MeetingCreate', description: 'A meeting needs a videoUrl, a location, or both.' });
export type MeetingCreate = z.infer<typeof MeetingCreate>;

export const MeetingUpdate = z
  .object({
    title: title.optional(),
    startsAt: Timestamp.optional(),
    endsAt: Timestamp.optional(),
    videoUrl: videoUrl.nullable().optional(),
    location: location.nullable().optional(),
    participantMemberIds: participantMemberIds.optional(),
    agenda: agenda.nullable().optional(),
    status: MeetingStatus.optional().meta({ description: 'cancelled cancels the meeting; a cancelled meeting cannot be changed.' }),
  })
  .strict()
  .meta({ id: 'MeetingUpdate', description: 'Reschedule with new startsAt/endsAt; cancel with status cancelled.' });
export type MeetingUpdate = z.infer<typeof MeetingUpdate>;

export const Meeting = z
  .object({
    id: z.uuid(),
    meetingId: z.uuid(),
    personId: z.uuid(),
    title: z.string(),
    startsAt: Timestamp,
    endsAt: Timestamp,
    videoUrl: z.string().nullable(),
    location: z.string().nullable(),
    agenda: z.string().nullable(),
    participantMemberIds: z.array(z.uuid()),
    status: MeetingStatus,
    version: z.number().int(),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  })
  .meta({ id: 'Meeting' });
export type Meeting = z.infer<typeof Meeting>;

export const MeetingParams = z.object({ personId: Uuid, meetingId: Uuid });
export const MeetingsQuery = PageQuery.extend({
  from: Timestamp.optional().meta({ description: 'Only meetings that end after this moment.' }),
  to: Timestamp.optional().meta({ description: 'Only meetings that start before this moment.' }),
  status: MeetingStatus.optional(),
});
