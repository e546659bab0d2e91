// Internal code-hosting types: a user's connected account and its repositories, whatever the
// provider calls them.

/** The provider account a Junction user connected, as Junction shows it. */
export interface CodeHostAccount {
  /** The Junction user it is connected to (the account's fields are read with that user's token). */
  userId: string;
  login: string;
  name: string | null;
  avatarUrl: string;
  profileUrl: string;
}

export interface Repository {
  id: string;
  name: string;
  /** `owner/name`. */
  fullName: string;
  description: string | null;
  stars: number;
  language: string | null;
  updatedAt: Date;
  /** The repository's page in a browser. */
  url: string;
  isPrivate: boolean;
}

export const repositoryTopic = (userId: string) => `repository:${userId}`;
