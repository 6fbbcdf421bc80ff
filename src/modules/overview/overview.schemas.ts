// The plan at a glance: each part present only when the caller may read its category.
import { z } from 'zod';
import { CareGoal, LifeGoal } from '../goals/goals.schemas.js';
import { Note } from '../notes/notes.schemas.js';
import { Person } from '../persons/persons.schemas.js';
import { Task } from '../tasks/tasks.schemas.js';
import { TeamMember } from '../team/team.schemas.js';

export const Overview = z
  .object({
    personId: z.uuid(),
    person: Person.nullable().meta({ description: 'Null without profile:read.' }),
    team: z.array(TeamMember).nullable().meta({ description: 'The active team; null without team:read.' }),
    lifeGoals: z
      .array(LifeGoal.extend({ careGoals: z.array(CareGoal) }))
      .nullable()
      .meta({ description: 'Life goals with the care goals serving them; null without goals:read.' }),
    openTasks: z.array(Task).nullable().meta({ description: 'Open and in-progress tasks; null without tasks:read.' }),
    latestNotes: z.array(Note).nullable().meta({ description: 'The latest notes the caller may read; null when none may be read.' }),
    truncated: z
      .array(z.enum(['team', 'lifeGoals', 'openTasks']))
      .meta({ description: 'Parts cut at their limit; page through their own endpoints for the rest.' }),
  })
  .meta({ id: 'Overview' });
export type Overview = z.infer<typeof Overview>;
