// GitHub's wire shapes (the subset Junction reads), validated with zod. Unknown fields pass.
import { z } from 'zod';

const login = z.string().min(1).max(100);
const isoTime = z.string().max(40);

/** `GET /user` (private-user or public-user). */
export const githubUserSchema = z.looseObject({
  id: z.number().int().positive(),
  login,
  name: z.string().max(1000).nullable().optional(),
  avatar_url: z.string().max(2048),
  html_url: z.string().max(2048),
});
export type GitHubUser = z.infer<typeof githubUserSchema>;

/** An element of `GET /user/repos`, and the repository of webhook payloads. */
export const githubRepositorySchema = z.looseObject({
  id: z.number().int().positive(),
  name: z.string().min(1).max(100),
  full_name: z.string().min(1).max(200),
  private: z.boolean(),
  html_url: z.string().max(2048),
  description: z.string().max(10_000).nullable(),
  stargazers_count: z.number().int().nonnegative(),
  language: z.string().max(100).nullable(),
  updated_at: isoTime,
  owner: z.looseObject({ id: z.number().int().positive(), login }),
});
export type GitHubRepository = z.infer<typeof githubRepositorySchema>;

export const githubRepositoryListSchema = z.array(githubRepositorySchema).max(100);

/** `{message, documentation_url}`: every GitHub REST error body (`status` as a string on newer ones). */
export const githubErrorSchema = z.looseObject({
  message: z.string(),
  documentation_url: z.string().optional(),
});

/** What Junction reads of the events it acts on (`push`, `repository`, `star`). */
export const repositoryEventSchema = z.looseObject({
  repository: githubRepositorySchema,
});

/** `github_app_authorization`: the user revoked the app. */
export const appAuthorizationEventSchema = z.looseObject({
  action: z.string().max(64),
  sender: z.looseObject({ id: z.number().int().positive() }),
});
