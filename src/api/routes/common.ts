import { z } from "zod";
import { LIMITS } from "../../kernel/limits.ts";

export const PageQuery = {
  limit: z.coerce.number().int().min(1).max(LIMITS.page_size_max).default(LIMITS.page_size_default),
  cursor: z.string().min(1).max(64).optional(),
};

export const listOf = <T extends z.ZodType>(item: T) => z.object({ data: z.array(item), next_cursor: z.string().nullable() });

export const IdParam = (name: string) => z.strictObject({ [name]: z.string().min(1).max(64) });
