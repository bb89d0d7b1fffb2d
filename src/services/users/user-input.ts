// The fields of a user as typed in a form or sent to the API, checked all at once: every problem is reported
// with its field, so a form can show each next to its input.
import { ValidationError } from '../../errors.js';
import type { UserRole } from '../../db/queries/users.js';

export const ROLES: readonly UserRole[] = ['admin', 'member', 'viewer'];
export const MIN_PASSWORD = 12;
const MAX_PASSWORD = 200;

export interface FieldProblem {
  field: string;
  message: string;
}

export function failIfProblems(problems: FieldProblem[]): void {
  if (problems.length === 0) return;
  throw new ValidationError(problems.map((p) => `${p.field}: ${p.message}`).join('; '), {
    field: problems[0]!.field,
    problems,
  });
}

export function checkEmail(raw: unknown, problems: FieldProblem[]): string {
  const email = typeof raw === 'string' ? raw.trim() : '';
  // Deliberately loose (one @, something on each side, a dot in the domain): mail servers decide the rest.
  if (!/^[^\s@\0]+@[^\s@\0]+\.[^\s@\0]+$/.test(email) || email.length > 254)
    problems.push({ field: 'email', message: 'enter an email address like name@example.com' });
  return email;
}

export function checkPassword(raw: unknown, problems: FieldProblem[], field = 'password'): string {
  const password = typeof raw === 'string' ? raw : '';
  if (password.length < MIN_PASSWORD) problems.push({ field, message: `use at least ${MIN_PASSWORD} characters` });
  else if (password.length > MAX_PASSWORD) problems.push({ field, message: `use at most ${MAX_PASSWORD} characters` });
  else if (password.includes('\0')) problems.push({ field, message: 'must not contain NUL characters' });
  return password;
}

export function checkRole(raw: unknown, problems: FieldProblem[]): UserRole {
  if (typeof raw !== 'string' || !ROLES.includes(raw as UserRole)) {
    problems.push({ field: 'role', message: `must be one of ${ROLES.join(', ')}` });
    return 'viewer';
  }
  return raw as UserRole;
}
