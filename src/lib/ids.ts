// Time-ordered UUIDs (v7): index-friendly and sortable by creation, used for every id.
import { v7 } from 'uuid';

export const newId = (): string => v7();
