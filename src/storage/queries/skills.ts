import type { Kysely } from 'kysely';
import type { Skill } from '../records.ts';
import type { Database } from '../schema.ts';

export interface NewSkill {
  id: string;
  name: string;
  key: string;
}

export function skillQueries(db: Kysely<Database>) {
  return {
    /** Creates the skills that do not exist yet; answers all of them by key. */
    async ensure(accountId: string, skills: NewSkill[], now: number): Promise<Map<string, Skill>> {
      if (skills.length > 0) {
        await db
          .insertInto('skills')
          .values(skills.map((s) => ({ id: s.id, account_id: accountId, name: s.name, name_key: s.key, created_at: now })))
          .onConflict((oc) => oc.columns(['account_id', 'name_key']).doNothing())
          .execute();
      }
      const keys = skills.map((s) => s.key);
      const rows =
        keys.length === 0
          ? []
          : await db
              .selectFrom('skills')
              .select(['id', 'name', 'name_key'])
              .where('account_id', '=', accountId)
              .where('name_key', 'in', keys)
              .execute();
      return new Map(rows.map((r) => [r.name_key, { id: r.id, name: r.name }]));
    },

    async list(accountId: string): Promise<Skill[]> {
      return db.selectFrom('skills').select(['id', 'name']).where('account_id', '=', accountId).orderBy('name_key').execute();
    },

    async assign(accountId: string, userId: string, skillIds: string[]): Promise<void> {
      if (skillIds.length === 0) return;
      await db
        .insertInto('user_skills')
        .values(skillIds.map((skillId) => ({ account_id: accountId, user_id: userId, skill_id: skillId })))
        .onConflict((oc) => oc.columns(['user_id', 'skill_id']).doNothing())
        .execute();
    },

    /** Replaces a user's skills with the given ones (ids of this account's skills only). */
    async setForUser(accountId: string, userId: string, skillIds: string[]): Promise<void> {
      await db.deleteFrom('user_skills').where('account_id', '=', accountId).where('user_id', '=', userId).execute();
      if (skillIds.length === 0) return;
      const valid = await db.selectFrom('skills').select('id').where('account_id', '=', accountId).where('id', 'in', skillIds).execute();
      if (valid.length === 0) return;
      await db
        .insertInto('user_skills')
        .values(valid.map((s) => ({ account_id: accountId, user_id: userId, skill_id: s.id })))
        .execute();
    },

    /** Skill names of each of the given users, by user id. */
    async forUsers(accountId: string, userIds: string[]): Promise<Map<string, string[]>> {
      const result = new Map<string, string[]>(userIds.map((id) => [id, []]));
      if (userIds.length === 0) return result;
      const rows = await db
        .selectFrom('user_skills')
        .innerJoin('skills', 'skills.id', 'user_skills.skill_id')
        .select(['user_skills.user_id', 'skills.name'])
        .where('user_skills.account_id', '=', accountId)
        .where('user_skills.user_id', 'in', userIds)
        .orderBy('skills.name_key')
        .execute();
      for (const row of rows) result.get(row.user_id)?.push(row.name);
      return result;
    },
  };
}
