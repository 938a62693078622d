/** The fulfilment (enrolment) service: grants and revokes a learner's access, looked up by our reference. */
import { z } from 'zod';
import { createHttpClient, type CallContext, type CommandCall, type HttpClient, type HttpClientOptions, type Replayable } from './http';

const EnrollmentBody = z.object({
  id: z.string().startsWith('enr_'),
  user_id: z.string(),
  course_ids: z.array(z.string()),
  reference: z.string(),
  status: z.enum(['active', 'revoked']),
});
const EnrollmentList = z.object({ results: z.array(EnrollmentBody) });

export interface Enrollment {
  id: string;
  customerId: string;
  skus: string[];
  reference: string;
  status: 'active' | 'revoked';
}

const toEnrollment = (e: z.infer<typeof EnrollmentBody>): Enrollment => ({ id: e.id, customerId: e.user_id, skus: e.course_ids, reference: e.reference, status: e.status });

const rejection = (_status: number, body: unknown) => {
  const b = body as { code?: string; message?: string } | undefined;
  return { code: b?.code ?? 'fulfilment_error', reason: b?.message ?? 'fulfilment refused the request' };
};

export type FulfilmentClient = ReturnType<typeof createFulfilmentClient>;

export function createFulfilmentClient(options: Omit<HttpClientOptions, 'service'>, http: HttpClient = createHttpClient({ service: 'fulfilment', ...options })) {
  return {
    http,
    async grant(input: { customerId: string; skus: string[]; reference: string }, ctx: CommandCall): Promise<Replayable<Enrollment>> {
      const { body, replayed } = await http.command({
        method: 'POST',
        path: '/enrollments',
        body: { user_id: input.customerId, course_ids: input.skus, reference: input.reference },
        schema: EnrollmentBody,
        rejection,
        ...ctx,
      });
      return { ...toEnrollment(body), replayed };
    },
    async revoke(enrollmentId: string, ctx: CommandCall): Promise<Enrollment> {
      const body = await http.request({ method: 'POST', path: `/enrollments/${encodeURIComponent(enrollmentId)}/revoke`, body: {}, schema: EnrollmentBody, rejection, ...ctx });
      return toEnrollment(body);
    },
    async findByReference(reference: string, ctx: CallContext = {}): Promise<Enrollment | undefined> {
      const list = await http.request({ method: 'GET', path: '/enrollments', query: { reference }, schema: EnrollmentList, rejection, ...ctx });
      // One reference can have a revoked enrolment and a later one (access restored after a refund
      // that could not be made): the one that stands is the active one, else the latest.
      const ours = list.results.filter((e) => e.reference === reference);
      const found = ours.find((e) => e.status === 'active') ?? ours.at(-1);
      return found && toEnrollment(found);
    },
  };
}
