import type { ApiKeyRole, ApiKeyRow } from '../../db/queries/api-keys.js';

export const API_KEY_ROLES: readonly ApiKeyRole[] = ['admin', 'member', 'viewer'];

/** A key as listed: how to tell it apart (name, prefix) and what it may do, never the key or its hash. */
export interface ApiKeyView {
  id: string;
  name: string | null;
  role: ApiKeyRole;
  prefix: string;
  createdAt: string;
  lastUsedAt: string | null;
}

export function toApiKeyView(row: ApiKeyRow): ApiKeyView {
  return {
    id: row.id,
    name: row.name,
    role: row.role,
    prefix: row.keyPrefix,
    createdAt: row.createdAt.toISOString(),
    lastUsedAt: row.lastUsedAt?.toISOString() ?? null,
  };
}
