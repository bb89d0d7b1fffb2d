// Everything that can stop the embedded PostgreSQL server from coming up is one of these: a message that says
// what was found and what to do, and a stable code to look up in docs/troubleshooting.md.
import { AppError } from '../../errors.js';

export class EmbeddedDbError extends AppError {
  constructor(code: string, message: string) {
    super(code, message, 503);
  }
}
