import type { UserRow } from '../../db/queries/users.js';

export interface UserView {
  id: string;
  email: string;
  role: UserRow['role'];
  workspaces: string[] | null;
  hasPassword: boolean;
  createdAt: string;
  lastSignInAt: string | null;
}

export function toUserView(u: UserRow): UserView {
  return {
    id: u.id,
    email: u.email,
    role: u.role,
    workspaces: u.workspaces,
    hasPassword: u.hasPassword,
    createdAt: new Date(u.createdAt).toISOString(),
    lastSignInAt: u.lastSignInAt ? new Date(u.lastSignInAt).toISOString() : null,
  };
}
