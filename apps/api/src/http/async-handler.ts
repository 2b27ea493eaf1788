import type { RequestHandler } from 'express';

/** An async handler whose rejection goes to Express's error handler (JSON for the API, a page for the web). */
export const asyncHandler =
  (handler: RequestHandler): RequestHandler =>
  async (req, res, next) => {
    try {
      await handler(req, res, next);
    } catch (error) {
      next(error);
    }
  };
