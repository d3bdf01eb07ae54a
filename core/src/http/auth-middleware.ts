import type { NextFunction, Request, Response } from 'express';
import type { TokenVerifier } from '../auth/tokens';
import type { RateLimits } from '../limits/rate-limits';

/** Bearer authentication, then the per-user API rate limit. */
export function authenticate(verify: TokenVerifier, limits: RateLimits) {
  return async (req: Request, res: Response, next: NextFunction) => {
    const header = req.header('authorization');
    const token = header?.startsWith('Bearer ') ? header.slice(7).trim() : undefined;
    const principal = await verify(token);
    res.locals.principal = principal;
    await limits.consume('api', principal.userId);
    next();
  };
}
